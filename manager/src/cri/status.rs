//! Version and Status: what kubelet asks first. NetworkReady is false, with a reason, when the
//! CNI plugins of the default network are not installed, so kubelet does not schedule pods that
//! could get no network.

use k8s_cri::v1 as cri;

use super::{CriContext, CRI_API_VERSION};

/// `VersionResponse` for this daemon.
pub fn version(ctx: &CriContext) -> cri::VersionResponse {
    cri::VersionResponse {
        version: "0.1.0".into(),
        runtime_name: "berth".into(),
        runtime_version: ctx.version.clone(),
        runtime_api_version: CRI_API_VERSION.into(),
    }
}

/// `StatusResponse`: the runtime is ready whenever berthd serves; the network when CNI is.
pub fn status(ctx: &CriContext, verbose: bool) -> cri::StatusResponse {
    let runtime = cri::RuntimeCondition {
        r#type: "RuntimeReady".into(),
        status: true,
        reason: String::new(),
        message: String::new(),
    };
    let network = match ctx.networks.ready() {
        Ok(()) => cri::RuntimeCondition {
            r#type: "NetworkReady".into(),
            status: true,
            reason: String::new(),
            message: String::new(),
        },
        Err(e) => cri::RuntimeCondition {
            r#type: "NetworkReady".into(),
            status: false,
            reason: "NetworkPluginNotReady".into(),
            message: format!("Network plugin returns error: {e}"),
        },
    };
    let mut info = std::collections::HashMap::new();
    if verbose {
        info.insert(
            "config".into(),
            serde_json::json!({ "root": ctx.root, "runtime": ctx.runtime }).to_string(),
        );
    }
    cri::StatusResponse {
        status: Some(cri::RuntimeStatus {
            conditions: vec![runtime, network],
        }),
        info,
        runtime_handlers: vec![cri::RuntimeHandler {
            name: String::new(),
            features: Some(cri::RuntimeHandlerFeatures {
                recursive_read_only_mounts: false,
                user_namespaces: false,
            }),
        }],
        features: None,
    }
}
