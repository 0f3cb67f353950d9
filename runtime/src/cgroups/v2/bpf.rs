//! The two bpf(2) calls the device controller needs; `nix` has no wrapper for them.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

use super::super::{fs, CgroupError};
use super::devices::Insn;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const LOG_SIZE: usize = 64 * 1024;

/// The prefix of `union bpf_attr` that BPF_PROG_LOAD reads (the kernel zero-fills the rest).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The prefix of `union bpf_attr` that BPF_PROG_ATTACH reads.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// BPF_PROG_LOAD of a cgroup device program; returns its fd, or the errno and the verifier log.
fn prog_load(insns: &[Insn], log: &mut [u8]) -> Result<OwnedFd, std::io::Error> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"berth_device");
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
        prog_ifindex: 0,
        expected_attach_type: BPF_CGROUP_DEVICE,
    };
    // SAFETY: `attr` is a valid, fully initialised prefix of `union bpf_attr` and its size is passed; the
    // pointers in it (instructions, license, log buffer) outlive the call and `log.len()` bounds the log writes.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// BPF_PROG_ATTACH of `prog` to the cgroup `cgroup` as its device program (flags 0: replaces our earlier one).
fn prog_attach(cgroup: &OwnedFd, prog: &OwnedFd) -> Result<(), std::io::Error> {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    // SAFETY: `attr` is a valid prefix of `union bpf_attr` whose size is passed; both fds are open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Loads `insns` as a device program and attaches it to the cgroup directory `dir`.
pub(crate) fn load_and_attach_device_program(
    dir: &Path,
    insns: &[Insn],
) -> Result<(), CgroupError> {
    let mut log = vec![0u8; LOG_SIZE];
    let prog = prog_load(insns, &mut log).map_err(|e| {
        let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
        let verifier = String::from_utf8_lossy(&log[..end]).trim().to_string();
        fs::io_err(
            dir,
            std::io::Error::new(
                e.kind(),
                format!("bpf(BPF_PROG_LOAD) device program: {e}; verifier: {verifier}"),
            ),
        )
    })?;
    let cg = open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fs::io_err(dir, e.into()))?;
    prog_attach(&cg, &prog).map_err(|e| {
        fs::io_err(
            dir,
            std::io::Error::new(
                e.kind(),
                format!("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE): {e}"),
            ),
        )
    })
}
