//! A plugin loaded by capstan-host, seen through the planner's seam.

use std::path::Path;

use capstan_core::{
    CheckRequest, CheckedPlan, ComponentId, ComponentPlan, Diagnostic, Health, Metadata, PlanError,
    PlanRequest, Violation,
};
use capstan_host::{CallContext, CallError, CallFailure, Plugin};
use capstan_plan::{PluginHandle, PolicyHandle, SeamError};

/// A wasm plugin behind [`PluginHandle`], or a policy plugin behind
/// [`PolicyHandle`].
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
        self.0.validate(&CallContext::for_component(component.clone()), inputs).map_err(seam)
    }

    fn plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        self.0.plan(&context(component_dir, request), request).map_err(seam)
    }

    fn validate_and_plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<CheckedPlan, SeamError> {
        self.0.validate_and_plan(&context(component_dir, request), request).map_err(seam)
    }

    fn health(&self, component: &ComponentId, object: &serde_json::Value) -> Result<Health, SeamError> {
        self.0.health(&CallContext::for_component(component.clone()), object).map_err(seam)
    }
}

impl PolicyHandle for HostPlugin {
    fn metadata(&self) -> &Metadata {
        self.0.metadata()
    }

    fn check(
        &self,
        component: &ComponentId,
        request: &CheckRequest,
    ) -> Result<Result<Vec<Violation>, String>, SeamError> {
        self.0.check(&CallContext::for_component(component.clone()), request).map_err(seam)
    }
}

fn context(component_dir: Option<&Path>, request: &PlanRequest) -> CallContext {
    CallContext {
        component: Some(request.component.clone()),
        component_dir: component_dir.map(Path::to_path_buf),
        // The host reads the request's own sensitive values.
        ..CallContext::default()
    }
}

/// A failed call across the planner's seam: a leak the host caught goes as
/// the [`capstan_core::leaks::Leak`] itself, so the planner fails the
/// component for the leak rather than for a broken call.
fn seam(e: CallError) -> SeamError {
    match e.cause {
        CallFailure::Leaked(leak) => leak,
        _ => Box::new(e),
    }
}
