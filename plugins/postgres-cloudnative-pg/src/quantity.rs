//! Kubernetes quantities, as far as validation needs them: whether a string
//! is a size, and whether a request exceeds its limit (which the API server
//! would refuse on the operator's Pods, long after `capstan plan` said yes).

use capstan_sdk::k8s::Resources;
use capstan_sdk::prelude::*;

/// A storage size (`10Gi`, `500M`, `1.5Ti`).
pub(crate) fn is_size(s: &str) -> bool {
    parse(s).is_some_and(|n| n > 0.0) && !s.ends_with('m')
}

/// The value of a quantity in base units (cores, bytes); `None` when it is
/// not one this parser knows.
pub(crate) fn parse(s: &str) -> Option<f64> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let factor = match &s[digits.len()..] {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    let n: f64 = digits.strip_prefix('+').unwrap_or(digits).parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * factor)
}

/// A diagnostic for each CPU or memory request above its limit, at `at`
/// (the JSON pointer of the `resources` input). Without a CPU limit there is
/// nothing to compare the CPU request with.
pub(crate) fn check_requests_within_limits(resources: &Resources, at: &str) -> Vec<Diagnostic> {
    let pairs = [
        ("cpu", &resources.requests.cpu, resources.limits.cpu.as_ref()),
        ("memory", &resources.requests.memory, Some(&resources.limits.memory)),
    ];
    pairs
        .into_iter()
        .filter_map(|(what, request, limit)| limit.map(|limit| (what, request, limit)))
        .filter(|(_, request, limit)| matches!((parse(request), parse(limit)), (Some(r), Some(l)) if r > l))
        .map(|(what, request, limit)| {
            Diagnostic::error(
                format!("{at}/requests/{what}"),
                format!(
                    "the {what} request {request} is above its limit {limit}: Kubernetes refuses such a Pod"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_decimal_and_milli_units() {
        assert_eq!(parse("1Gi"), Some(1024f64.powi(3)));
        assert_eq!(parse("500m"), Some(0.5));
        assert_eq!(parse("2"), Some(2.0));
        assert_eq!(parse("1.5k"), Some(1500.0));
        assert_eq!(parse("lots"), None);
        assert_eq!(parse("1Mi"), Some(1024f64.powi(2)));
        assert!(is_size("10Gi") && !is_size("0") && !is_size("100m") && !is_size("ten"));
    }

    #[test]
    fn a_missing_cpu_limit_is_not_compared() {
        let resources = |cpu_limit: Option<&str>| Resources {
            requests: k8s::Quantities { cpu: "4".into(), memory: "2Gi".into() },
            limits: k8s::Limits { cpu: cpu_limit.map(Into::into), memory: "1Gi".into() },
        };
        let d = check_requests_within_limits(&resources(None), "/resources");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].path, "/resources/requests/memory");
        let d = check_requests_within_limits(&resources(Some("2")), "/resources");
        let paths: Vec<_> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["/resources/requests/cpu", "/resources/requests/memory"]);
    }
}
