//! A plugin loaded by capstan-host, seen through the planner's seam.

use std::path::Path;

use capstan_core::{
    CheckedPlan, ComponentId, ComponentPlan, Diagnostic, Health, Metadata, PlanError, PlanRequest,
};
use capstan_host::{CallContext, Plugin};
use capstan_plan::{PluginHandle, SeamError};

/// A wasm plugin behind [`PluginHandle`].
pub struct HostPlugin(pub Plugin);

impl PluginHandle for HostPlugin {
    fn metadata(&self) -> &Metadata {
        self.0.metadata()
    }

    fn digest(&self) -> &str {
        self.0.digest()
    }

    fn validate(
        &self,
        component: &ComponentId,
        inputs: &serde_json::Value,
    ) -> Result<Vec<Diagnostic>, SeamError> {
        Ok(self.0.validate(&CallContext::for_component(component.clone()), inputs)?)
    }

    fn plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        Ok(self.0.plan(&context(component_dir, request), request)?)
    }

    fn validate_and_plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<CheckedPlan, SeamError> {
        Ok(self.0.validate_and_plan(&context(component_dir, request), request)?)
    }

    fn health(&self, component: &ComponentId, object: &serde_json::Value) -> Result<Health, SeamError> {
        Ok(self.0.health(&CallContext::for_component(component.clone()), object)?)
    }
}

fn context(component_dir: Option<&Path>, request: &PlanRequest) -> CallContext {
    CallContext {
        component: Some(request.component.clone()),
        component_dir: component_dir.map(Path::to_path_buf),
    }
}
