//! What this build of libseccomp and this kernel support, for validation and `features`.

use std::str::FromStr;

use libseccomp::{ScmpArch, ScmpVersion};

/// Every action of runtime-spec 1.2.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];

/// Every argument operator of runtime-spec 1.2.
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// Every filter flag of runtime-spec 1.2.
pub const KNOWN_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Every architecture name of runtime-spec 1.2.
pub const ARCHS: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
];

fn version_at_least(major: u32, minor: u32) -> bool {
    libseccomp::check_version(ScmpVersion::from((major, minor, 0))).unwrap_or(false)
}

/// The libseccomp API level (what the library and the running kernel support together).
fn api() -> u32 {
    libseccomp::get_api()
}

/// Whether `name` (one of [`ACTIONS`]) can be used here.
pub fn action_supported(name: &str) -> bool {
    match name {
        // SECCOMP_RET_KILL_PROCESS and SECCOMP_RET_LOG need API level 3 (Linux 4.14).
        "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_LOG" => api() >= 3,
        // The user notification needs API level 6 (libseccomp 2.5, Linux 5.7).
        "SCMP_ACT_NOTIFY" => api() >= 6,
        other => ACTIONS.contains(&other),
    }
}

/// Whether this libseccomp knows architecture `name` (it can resolve syscalls for it). A filter
/// can only hold architectures of the native byte order; libseccomp refuses others at load.
pub fn arch_supported(name: &str) -> bool {
    let Ok(arch) = ScmpArch::from_str(name) else {
        return false;
    };
    libseccomp::ScmpSyscall::from_name_by_arch("exit_group", arch).is_ok()
}

/// Whether filter flag `name` can be honoured here.
pub fn flag_supported(name: &str) -> bool {
    match name {
        // TSYNC is always possible: libseccomp falls back when the kernel lacks it, and the
        // process that loads the filter is single-threaded anyway.
        "SECCOMP_FILTER_FLAG_TSYNC" => true,
        // SECCOMP_FILTER_FLAG_LOG: API level 3; SPEC_ALLOW: libseccomp 2.5 and API level 4.
        "SECCOMP_FILTER_FLAG_LOG" => api() >= 3,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => api() >= 4 && version_at_least(2, 5),
        // SCMP_FLTATR_CTL_WAITKILL arrived in libseccomp 2.6 (API level 7, Linux 5.19).
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => api() >= 7 && version_at_least(2, 6),
        _ => false,
    }
}

/// The supported subset of `all` according to `ok`.
pub fn filter_supported(all: &[&'static str], ok: fn(&str) -> bool) -> Vec<&'static str> {
    all.iter().copied().filter(|n| ok(n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_arch_and_basic_actions_are_supported() {
        assert!(arch_supported("SCMP_ARCH_X86_64") || arch_supported("SCMP_ARCH_AARCH64"));
        assert!(!arch_supported("SCMP_ARCH_Z80"));
        assert!(action_supported("SCMP_ACT_ERRNO"));
        assert!(flag_supported("SECCOMP_FILTER_FLAG_TSYNC"));
        assert!(!flag_supported("SECCOMP_FILTER_FLAG_NOPE"));
    }
}
