//! Checks `linux.seccomp` as raw JSON before the spec is parsed, so that every mistake is reported
//! with the path of the field at fault (serde's "unknown variant" names neither field nor index).

use serde_json::{Map, Value};

use super::support;
use super::SeccompError;

/// Number of syscall arguments the kernel passes to a filter (`seccomp_data.args`).
pub const MAX_ARGS: u64 = 6;

/// Longest `sun_path` of a unix socket address, without the terminating NUL.
const SUN_PATH_MAX: usize = 107;

fn field(field: impl Into<String>, msg: impl Into<String>) -> SeccompError {
    SeccompError::Field {
        field: field.into(),
        msg: msg.into(),
    }
}

/// The outcome of checking a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: a filter will be loaded.
    Enabled,
    /// No `defaultAction` and no syscalls: seccomp is off, as in runc.
    Disabled,
}

/// Validates the `linux.seccomp` object `v` (path prefix `linux.seccomp`).
pub fn check(v: &Value) -> Result<Verdict, SeccompError> {
    const P: &str = "linux.seccomp";
    let obj = v.as_object().ok_or_else(|| field(P, "must be an object"))?;
    let syscalls = match obj.get("syscalls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(field(format!("{P}.syscalls"), "must be an array")),
    };
    let default = match obj.get("defaultAction") {
        None | Some(Value::Null) if syscalls.is_empty() => return Ok(Verdict::Disabled),
        Some(Value::String(s)) if s.is_empty() && syscalls.is_empty() => {
            return Ok(Verdict::Disabled)
        }
        None | Some(Value::Null) => {
            return Err(field(
                format!("{P}.defaultAction"),
                "missing (required when syscalls are listed)",
            ))
        }
        Some(a) => action(&format!("{P}.defaultAction"), a)?,
    };
    if default == "SCMP_ACT_NOTIFY" {
        // The init talks to the runtime with write(2) after loading the filter; if that write
        // were notified, nobody could answer it yet (runc refuses this too).
        return Err(field(
            format!("{P}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be used as default action",
        ));
    }
    errno(obj, P, "defaultErrnoRet")?;
    for (f, arch) in optional_items(obj, P, "architectures")? {
        let name = arch.as_str().ok_or_else(|| field(&f, "must be a string"))?;
        if !support::arch_supported(name) {
            return Err(field(
                &f,
                format!("unknown or unsupported architecture {name:?}"),
            ));
        }
    }
    for (f, flag) in optional_items(obj, P, "flags")? {
        let name = flag.as_str().ok_or_else(|| field(&f, "must be a string"))?;
        if !support::KNOWN_FLAGS.contains(&name) {
            return Err(field(&f, format!("unknown seccomp flag {name:?}")));
        }
        if !support::flag_supported(name) {
            return Err(field(
                &f,
                format!("seccomp flag {name:?} is not supported by this libseccomp/kernel"),
            ));
        }
    }
    let mut notify = false;
    for (i, call) in syscalls.iter().enumerate() {
        let p = format!("{P}.syscalls[{i}]");
        let call = call
            .as_object()
            .ok_or_else(|| field(&p, "must be an object"))?;
        let act = action(
            &format!("{p}.action"),
            call.get("action")
                .ok_or_else(|| field(format!("{p}.action"), "missing"))?,
        )?;
        errno(call, &p, "errnoRet")?;
        let names = call
            .get("names")
            .and_then(Value::as_array)
            .ok_or_else(|| field(format!("{p}.names"), "missing or not an array"))?;
        for (j, n) in names.iter().enumerate() {
            let name = n
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| field(format!("{p}.names[{j}]"), "must be a non-empty string"))?;
            if act == "SCMP_ACT_NOTIFY" && name == "write" {
                return Err(field(
                    format!("{p}.names[{j}]"),
                    "SCMP_ACT_NOTIFY cannot be used for the write syscall",
                ));
            }
        }
        notify |= act == "SCMP_ACT_NOTIFY";
        for (f, a) in optional_items(call, &p, "args")? {
            arg(&f, a)?;
        }
    }
    listener(obj, notify)?;
    Ok(Verdict::Enabled)
}

/// The items of the optional array `obj[key]` (absent or null: none), each with its field path
/// `prefix.key[i]` for the errors about it.
fn optional_items<'a>(
    obj: &'a Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Vec<(String, &'a Value)>, SeccompError> {
    let Some(v) = obj.get(key).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| field(format!("{prefix}.{key}"), "must be an array"))?;
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, item)| (format!("{prefix}.{key}[{i}]"), item))
        .collect())
}

fn action<'a>(f: &str, v: &'a Value) -> Result<&'a str, SeccompError> {
    let s = v.as_str().ok_or_else(|| field(f, "must be a string"))?;
    if !support::ACTIONS.contains(&s) {
        return Err(field(
            f,
            format!(
                "unknown action {s:?} (one of {})",
                support::ACTIONS.join(", ")
            ),
        ));
    }
    if !support::action_supported(s) {
        return Err(field(
            f,
            format!("action {s:?} is not supported by this libseccomp/kernel"),
        ));
    }
    Ok(s)
}

fn errno(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<(), SeccompError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_u64() {
            // SECCOMP_RET_DATA is 16 bits wide.
            Some(n) if n <= u64::from(u16::MAX) => Ok(()),
            _ => Err(field(
                format!("{prefix}.{key}"),
                format!("{v} is not an errno value (0 to 65535)"),
            )),
        },
    }
}

fn arg(p: &str, v: &Value) -> Result<(), SeccompError> {
    let a = v.as_object().ok_or_else(|| field(p, "must be an object"))?;
    let index = a
        .get("index")
        .ok_or_else(|| field(format!("{p}.index"), "missing"))?;
    match index.as_u64() {
        Some(i) if i < MAX_ARGS => {}
        _ => {
            return Err(field(
                format!("{p}.index"),
                format!(
                    "{index} is out of range: a syscall has at most 6 arguments (index 0 to 5)"
                ),
            ))
        }
    }
    for key in ["value", "valueTwo"] {
        match a.get(key) {
            None if key == "valueTwo" => {}
            None => return Err(field(format!("{p}.{key}"), "missing")),
            Some(x) if x.is_null() && key == "valueTwo" => {}
            Some(x) if x.as_u64().is_some() => {}
            Some(x) => {
                return Err(field(
                    format!("{p}.{key}"),
                    format!("{x} is not an unsigned 64-bit integer"),
                ))
            }
        }
    }
    let op = a
        .get("op")
        .ok_or_else(|| field(format!("{p}.op"), "missing"))?;
    match op.as_str() {
        Some(s) if support::OPERATORS.contains(&s) => Ok(()),
        _ => Err(field(
            format!("{p}.op"),
            format!(
                "unknown operator {op} (one of {})",
                support::OPERATORS.join(", ")
            ),
        )),
    }
}

fn listener(obj: &Map<String, Value>, notify: bool) -> Result<(), SeccompError> {
    const F: &str = "linux.seccomp.listenerPath";
    let path = match obj.get("listenerPath") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(field(F, "must be a string")),
    };
    match obj.get("listenerMetadata") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => return Err(field("linux.seccomp.listenerMetadata", "must be a string")),
    }
    match path {
        None if notify => Err(field(
            F,
            "missing: SCMP_ACT_NOTIFY needs a listener socket path",
        )),
        None => Ok(()),
        Some(p) if !p.starts_with('/') => Err(field(F, format!("{p:?} must be an absolute path"))),
        Some(p) if p.contains('\0') => Err(field(F, format!("{p:?} contains a NUL byte"))),
        Some(p) if p.len() > SUN_PATH_MAX => Err(field(
            F,
            format!(
                "{p:?} is too long for a unix socket address ({} bytes, at most {SUN_PATH_MAX})",
                p.len()
            ),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        check(&v).unwrap_err().to_string()
    }

    #[test]
    fn accepts_and_disables() {
        assert_eq!(
            check(&json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap(),
            Verdict::Enabled
        );
        assert_eq!(check(&json!({})).unwrap(), Verdict::Disabled);
        assert_eq!(
            check(&json!({"defaultAction": "", "syscalls": []})).unwrap(),
            Verdict::Disabled
        );
    }

    #[test]
    fn names_the_field() {
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_BOGUS"}]}));
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].action: unknown action"),
            "{e}"
        );
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"},
                         {"index": 1, "value": 0, "op": "SCMP_CMP_LIKE"}]}]}));
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].args[1].op: unknown operator"),
            "{e}"
        );
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}));
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].args[0].index: 6 is out of range"),
            "{e}"
        );
        let e = err(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "rel/sock",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        assert!(
            e.starts_with("linux.seccomp.listenerPath: \"rel/sock\" must be an absolute path"),
            "{e}"
        );
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}]}));
        assert!(e.starts_with("linux.seccomp.listenerPath: missing"), "{e}");
        let e = err(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/s",
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        assert!(
            e.starts_with("linux.seccomp.syscalls[0].names[0]: SCMP_ACT_NOTIFY"),
            "{e}"
        );
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}));
        assert!(e.starts_with("linux.seccomp.architectures[0]:"), "{e}");
        let e = err(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_X"]}));
        assert!(
            e.starts_with("linux.seccomp.flags[0]: unknown seccomp flag"),
            "{e}"
        );
        let e = err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}));
        assert!(e.starts_with("linux.seccomp.defaultErrnoRet:"), "{e}");
        let e = err(json!({"syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(e.starts_with("linux.seccomp.defaultAction: missing"), "{e}");
    }
}
