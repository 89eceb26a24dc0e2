//! `--security-opt seccomp=FILE`: a seccomp profile in the OCI `linux.seccomp` format
//! (which Docker's and iSula's profiles follow), compiled with libseccomp and loaded by the
//! container's init and by `exec` right before they exec.

use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscallBuilder,
};

/// Largest profile file read.
const MAX_PROFILE_BYTES: u64 = 10 << 20;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp profile {path}: {reason}")]
    Profile { path: PathBuf, reason: String },
    #[error("seccomp: {0}")]
    Filter(String),
}

/// The profile of a container that names none, unless it is `--privileged` or
/// `--security-opt seccomp=unconfined`: everything allowed but `bpf(2)`, which fails with
/// EPERM. A system container keeps CAP_SYS_ADMIN in the host's user namespace, with which
/// `bpf(BPF_PROG_DETACH)` would take the cgroup v2 device filter off its own cgroup; systemd
/// inside treats EPERM from `bpf` as "no BPF here" and boots without its BPF features. The
/// 32-bit ABIs of the host are listed too, so that `int 0x80` cannot reach `bpf` either.
pub fn default_profile() -> Result<LinuxSeccomp, SeccompError> {
    let err = |e: oci_spec::OciSpecError| SeccompError::Filter(format!("default profile: {e}"));
    let bpf = LinuxSyscallBuilder::default()
        .names(vec!["bpf".to_string()])
        .action(LinuxSeccompAction::ScmpActErrno)
        .errno_ret(libc::EPERM as u32)
        .build()
        .map_err(err)?;
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .architectures(host_architectures())
        .syscalls(vec![bpf])
        .build()
        .map_err(err)
}

/// The host's architecture and the other ABIs its kernel runs.
fn host_architectures() -> Vec<Arch> {
    if cfg!(target_arch = "x86_64") {
        vec![Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
    } else if cfg!(target_arch = "aarch64") {
        vec![Arch::ScmpArchAarch64, Arch::ScmpArchArm]
    } else {
        vec![Arch::ScmpArchNative]
    }
}

/// Read and check a profile file: absolute, a regular file of at most 10 MB owned by root and
/// writable by nobody else, valid JSON in the OCI format, and compilable (every action and
/// operator known).
pub fn load_profile(path: &Path) -> Result<LinuxSeccomp, SeccompError> {
    let bad = |reason: String| SeccompError::Profile {
        path: path.to_path_buf(),
        reason,
    };
    let text = crate::trusted_file::read_trusted_file(path, MAX_PROFILE_BYTES)
        .map_err(|e| bad(e.to_string()))?;
    let profile: LinuxSeccomp =
        serde_json::from_slice(&text).map_err(|e| bad(format!("invalid profile: {e}")))?;
    compile(&profile).map_err(|e| bad(e.to_string()))?;
    Ok(profile)
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, SeccompError> {
    let errno = errno.map(|e| e as i32).unwrap_or(libc::EPERM);
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::Filter(
                "SCMP_ACT_NOTIFY needs a listener, which is not supported".into(),
            ))
        }
    })
}

fn operator(op: LinuxSeccompOperator, mask: u64) -> ScmpCompareOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(mask),
    }
}

fn arch(arch: Arch) -> Option<ScmpArch> {
    Some(match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        _ => return None,
    })
}

/// Compile a profile into a libseccomp filter (not loaded). Syscall names this libseccomp
/// does not know are skipped, as runc does: profiles list syscalls of newer kernels.
pub fn compile(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
    let err = |what: &str, e: libseccomp::error::SeccompError| {
        SeccompError::Filter(format!("{what}: {e}"))
    };
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut filter = ScmpFilterContext::new_filter(default).map_err(|e| err("new filter", e))?;
    // no_new_privs is the container's own choice (--security-opt no-new-privileges).
    filter
        .set_ctl_nnp(false)
        .map_err(|e| err("filter attribute", e))?;
    for a in profile.architectures().as_deref().unwrap_or(&[]) {
        if let Some(a) = arch(*a) {
            filter.add_arch(a).map_err(|e| err("add architecture", e))?;
        }
    }
    for rule in profile.syscalls().as_deref().unwrap_or(&[]) {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let conditions: Vec<ScmpArgCompare> = rule
            .args()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .map(|a| {
                let (mask, datum) = match a.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => {
                        (a.value(), a.value_two().unwrap_or(0))
                    }
                    _ => (0, a.value()),
                };
                ScmpArgCompare::new(a.index() as u32, operator(a.op(), mask), datum)
            })
            .collect();
        for name in rule.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                tracing::debug!("seccomp: syscall {name} is unknown here; rule skipped");
                continue;
            };
            let added = if conditions.is_empty() {
                filter.add_rule(act, syscall)
            } else {
                filter.add_rule_conditional(act, syscall, &conditions)
            };
            added.map_err(|e| err(&format!("rule for {name}"), e))?;
        }
    }
    Ok(filter)
}

/// Compile and load a profile into the calling thread (inherited across exec).
pub fn apply(profile: &LinuxSeccomp) -> Result<(), SeccompError> {
    compile(profile)?.load().map_err(|e| {
        SeccompError::Filter(format!(
            "load the filter (it needs CAP_SYS_ADMIN or no-new-privileges): {e}"
        ))
    })
}

/// Compile a profile into the BPF program libseccomp would load (`struct sock_filter`s),
/// for a process that loads it itself with `seccomp(SECCOMP_SET_MODE_FILTER, 0, …)`.
pub fn export_bpf(profile: &LinuxSeccomp) -> Result<Vec<u8>, SeccompError> {
    use std::io::{Read, Seek};
    let err = |what: &str, e: &dyn std::fmt::Display| SeccompError::Filter(format!("{what}: {e}"));
    let filter = compile(profile)?;
    // SAFETY: memfd_create with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(err("memfd_create", &std::io::Error::last_os_error()));
    }
    // SAFETY: a fresh descriptor we own.
    let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    filter
        .export_bpf(&mut file)
        .map_err(|e| err("export the filter", &e))?;
    let mut program = Vec::new();
    file.rewind()
        .and_then(|()| file.read_to_end(&mut program))
        .map_err(|e| err("read the exported filter", &e))?;
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("sc-seccomp-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_default_profile_exports_as_a_bpf_program() {
        let program = export_bpf(&default_profile().unwrap()).unwrap();
        let insn = std::mem::size_of::<libc::sock_filter>();
        assert!(program.len() >= 4 * insn, "{} bytes", program.len());
        assert_eq!(program.len() % insn, 0);
    }

    #[test]
    fn the_default_profile_refuses_only_bpf() {
        let profile = default_profile().unwrap();
        assert_eq!(profile.default_action(), LinuxSeccompAction::ScmpActAllow);
        let rules = profile.syscalls().clone().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].names(), &["bpf".to_string()]);
        assert_eq!(rules[0].action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(rules[0].errno_ret(), Some(libc::EPERM as u32));
        // It compiles with every listed architecture.
        compile(&profile).unwrap();
    }

    #[test]
    fn profiles_are_checked() {
        let good = write(
            "good.json",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"names":["sethostname","no_such_syscall"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let p = load_profile(&good).unwrap();
        assert_eq!(p.syscalls().as_ref().unwrap().len(), 2);
        let bad_action = write("action.json", r#"{"defaultAction":"SCMP_ACT_MAYBE"}"#);
        let e = load_profile(&bad_action).unwrap_err().to_string();
        assert!(
            e.contains("action.json") && e.contains("SCMP_ACT_MAYBE"),
            "{e}"
        );
        let not_json = write("nojson.json", "{");
        assert!(load_profile(&not_json)
            .unwrap_err()
            .to_string()
            .contains("nojson.json"));
        assert!(load_profile(Path::new("rel.json"))
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        let notify = write("notify.json", r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#);
        assert!(load_profile(&notify)
            .unwrap_err()
            .to_string()
            .contains("NOTIFY"));
        for p in [good, bad_action, not_json, notify] {
            std::fs::remove_file(p).unwrap();
        }
    }
}
