//! The container process's command line and environment from the image config and run options.

use super::BundleError;

/// PATH when the image sets none (Docker's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's rules: `--entrypoint` replaces the image's Entrypoint and drops its Cmd; run
/// arguments replace Cmd; the process runs Entrypoint followed by Cmd.
pub fn command(
    image_entrypoint: &[String],
    image_cmd: &[String],
    entrypoint: Option<&[String]>,
    args: &[String],
) -> Result<Vec<String>, BundleError> {
    let (ep, default_cmd): (&[String], &[String]) = match entrypoint {
        Some(ep) => (ep, &[]),
        None => (image_entrypoint, image_cmd),
    };
    let cmd = if args.is_empty() { default_cmd } else { args };
    let all: Vec<String> = ep.iter().chain(cmd.iter()).cloned().collect();
    if all.is_empty() {
        return Err(BundleError::NoCommand);
    }
    Ok(all)
}

fn key_of(kv: &str) -> &str {
    kv.split_once('=').map(|(k, _)| k).unwrap_or(kv)
}

/// Image Env with the run's `KEY=VALUE` entries added (replacing same keys), PATH defaulted,
/// and `defaults` (e.g. HOSTNAME, HOME) added only when absent.
pub fn environment(
    image_env: &[String],
    run_env: &[String],
    defaults: &[(&str, &str)],
) -> Result<Vec<String>, BundleError> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: &str| {
        let k = key_of(kv);
        match env.iter_mut().find(|e| key_of(e) == k) {
            Some(e) => *e = kv.to_string(),
            None => env.push(kv.to_string()),
        }
    };
    for e in image_env {
        set(e);
    }
    for e in run_env {
        if !e.contains('=') || e.starts_with('=') {
            return Err(BundleError::InvalidOption {
                option: "env".into(),
                reason: format!(
                    "{e:?} is not KEY=VALUE (the CLI resolves a bare KEY from its own environment)"
                ),
            });
        }
        set(e);
    }
    let mut out = env;
    if !out.iter().any(|e| key_of(e) == "PATH") {
        out.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    for (k, v) in defaults {
        if !out.iter().any(|e| key_of(e) == *k) {
            out.push(format!("{k}={v}"));
        }
    }
    Ok(out)
}
