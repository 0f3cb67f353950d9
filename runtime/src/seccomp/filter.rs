//! Turns a parsed `linux.seccomp` into a libseccomp filter, with runc 1.1's semantics.

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};

use super::SeccompError;

fn lib(context: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let context = context.into();
    move |source| SeccompError::Libseccomp { context, source }
}

/// The libseccomp action for a spec action; `errno` defaults to EPERM for ERRNO and TRACE (runc).
pub fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    let ret = errno.map(|e| e as u16).unwrap_or(libc::EPERM as u16);
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret),
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    }
}

fn arch(a: Arch) -> Result<ScmpArch, SeccompError> {
    let name = a.to_string();
    name.parse::<ScmpArch>().map_err(|_| SeccompError::Field {
        field: "linux.seccomp.architectures".into(),
        msg: format!("unknown architecture {name:?}"),
    })
}

fn condition(a: &LinuxSeccompArg) -> ScmpArgCompare {
    let op = match a.op() {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // runtime-spec: `value` is the mask, `valueTwo` the value the masked argument must equal.
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            return ScmpArgCompare::new(
                a.index() as u32,
                ScmpCompareOp::MaskedEqual(a.value()),
                a.value_two().unwrap_or(0),
            )
        }
    };
    ScmpArgCompare::new(a.index() as u32, op, a.value())
}

/// Whether any rule notifies a seccomp agent.
pub fn uses_notify(config: &LinuxSeccomp) -> bool {
    config.default_action() == LinuxSeccompAction::ScmpActNotify
        || config
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Builds the filter (not loaded). Syscall names this libseccomp cannot resolve are skipped, as in
/// runc; rules whose action equals the default action are skipped (libseccomp refuses them).
pub fn build(config: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
    let default = action(config.default_action(), config.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("create filter"))?;
    for a in config.architectures().iter().flatten() {
        ctx.add_arch(arch(*a)?)
            .map_err(lib(format!("add architecture {a}")))?;
    }
    // The runtime sets no_new_privs itself when the config asks for it; libseccomp must not.
    ctx.set_ctl_nnp(false)
        .map_err(lib("clear SCMP_FLTATR_CTL_NNP"))?;
    match config.flags() {
        // No flags at all (not even an empty list): SPEC_ALLOW where supported, as crun and newer
        // runc do, so that a profile does not turn on the Speculative Store Bypass mitigation.
        None => {
            if super::support::flag_supported("SECCOMP_FILTER_FLAG_SPEC_ALLOW") {
                ctx.set_ctl_ssb(true)
                    .map_err(lib("set SECCOMP_FILTER_FLAG_SPEC_ALLOW"))?;
            }
        }
        Some(flags) => {
            for f in flags {
                match f {
                    LinuxSeccompFilterFlag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
                    LinuxSeccompFilterFlag::SeccompFilterFlagLog => ctx.set_ctl_log(true),
                    LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
                    LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                        ctx.set_ctl_waitkill(true)
                    }
                }
                .map_err(lib(format!("set flag {f}")))?;
            }
        }
    }
    for call in config.syscalls().iter().flatten() {
        let act = action(call.action(), call.errno_ret());
        if act == default {
            continue;
        }
        let args = call.args().as_deref().unwrap_or_default();
        let conds: Vec<ScmpArgCompare> = args.iter().map(condition).collect();
        // runc: when two conditions test the same argument they cannot be ANDed in one rule
        // (libseccomp refuses), so each condition becomes a rule of its own; otherwise all
        // conditions form one rule that matches when every one of them holds.
        let mut seen = [0u8; super::validate::MAX_ARGS as usize];
        for a in args {
            if let Some(n) = seen.get_mut(a.index()) {
                *n += 1;
            }
        }
        let split = seen.iter().any(|&n| n > 1);
        for name in call.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                // Unknown to this libseccomp: the kernel cannot have it either; runc skips it.
                continue;
            };
            let what = || format!("add rule for syscall {name}");
            if conds.is_empty() {
                ctx.add_rule(act, nr).map_err(lib(what()))?;
            } else if split {
                for c in &conds {
                    ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                        .map_err(lib(what()))?;
                }
            } else {
                ctx.add_rule_conditional(act, nr, &conds)
                    .map_err(lib(what()))?;
            }
        }
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_every_action_and_operator() {
        let mut syscalls = Vec::new();
        for (i, a) in super::super::support::ACTIONS.iter().enumerate() {
            let name = [
                "getpid", "getppid", "getuid", "getgid", "geteuid", "getegid", "gettid", "getpgrp",
                "getsid",
            ][i];
            syscalls.push(serde_json::json!({"names": [name], "action": a, "errnoRet": 5}));
        }
        for op in super::super::support::OPERATORS {
            syscalls.push(
                serde_json::json!({"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 1, "value": 8, "valueTwo": 8, "op": op}]}),
            );
        }
        syscalls.push(
            serde_json::json!({"names": ["no_such_syscall_here"], "action": "SCMP_ACT_ERRNO"}),
        );
        let c = parse(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": syscalls}));
        let ctx = build(&c).unwrap();
        let f = tempfile_in_tmp();
        ctx.export_bpf(&f).unwrap();
        assert!(f.metadata().unwrap().len() > 8);
        assert!(uses_notify(&c));
    }

    fn tempfile_in_tmp() -> std::fs::File {
        let p = std::env::temp_dir().join(format!("berth-bpf-{}", std::process::id()));
        let f = std::fs::File::options()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let _ = std::fs::remove_file(&p);
        f
    }

    #[test]
    fn errno_defaults_to_eperm() {
        assert_eq!(
            action(LinuxSeccompAction::ScmpActErrno, None),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActTrace, Some(7)),
            ScmpAction::Trace(7)
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActKill, None),
            ScmpAction::KillThread
        );
    }
}
