//! The filter on the real kernel: needs root and a cgroup2 hierarchy (on a hybrid host, the
//! `unified` one). Each test makes its own cgroup below this process's cgroup2 cgroup and
//! removes it even on failure.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use syscontainer_device_filter::{
    compile, Access, DeviceCgroup, DeviceKind, Program, Rule, PROGRAM_NAME,
};

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "these tests need root");
}

/// The mount point of the cgroup2 hierarchy, from /proc/self/mountinfo.
fn cgroup2_mount() -> PathBuf {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .find_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            (fs.split_whitespace().next() == Some("cgroup2"))
                .then(|| PathBuf::from(mount.split_whitespace().nth(4).unwrap()))
        })
        .expect("no cgroup2 hierarchy mounted")
}

/// This process's cgroup in the cgroup2 hierarchy (the `0::` line).
fn own_cgroup2() -> PathBuf {
    let cgroups = fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = cgroups
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .expect("no cgroup2 line in /proc/self/cgroup");
    cgroup2_mount().join(path.trim_start_matches('/'))
}

struct TempCgroup(PathBuf);

impl TempCgroup {
    fn create(tag: &str) -> TempCgroup {
        let path = own_cgroup2().join(format!("sysc-devfilter-{tag}-{}", std::process::id()));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempCgroup(path)
    }
}

impl TempCgroup {
    /// A cgroup below this one, as systemd inside a container makes them; dropped first.
    fn child(&self, name: &str) -> TempCgroup {
        let path = self.0.join(name);
        fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempCgroup(path)
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        // A killed child may take a moment to leave the cgroup.
        for _ in 0..100 {
            match fs::remove_dir(&self.0) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => return,
            }
        }
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn create(tag: &str) -> TempDir {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("devfilter-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn cstring(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// A block device node in `dir` that opens outside the filter (so a refusal inside is the
/// filter's doing): the host's disk holding `/` if this host lets us open it, else loop0.
fn openable_block_node(dir: &Path) -> (PathBuf, libc::dev_t) {
    let node = dir.join("host-disk");
    let root_disk = fs::metadata("/").unwrap().dev();
    for dev in [root_disk, libc::makedev(7, 0)] {
        let _ = fs::remove_file(&node);
        if libc::major(dev) != 0 && mknod_block(&node, dev) == 0 && fs::File::open(&node).is_ok() {
            return (node, dev);
        }
    }
    panic!("no block device node that opens outside the filtered cgroup");
}

fn mknod_block(path: &Path, dev: libc::dev_t) -> i32 {
    let path = cstring(path);
    // SAFETY: path is a valid NUL-terminated string.
    let ret = unsafe { libc::mknod(path.as_ptr(), libc::S_IFBLK | 0o600, dev) };
    if ret == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    }
}

enum Check {
    Open(CString),
    MknodBlock(CString, libc::dev_t),
}

/// Runs one check with raw syscalls only (it runs in a forked child of a threaded process) and
/// returns 0 or the errno.
fn run_check(check: &Check) -> i32 {
    // SAFETY: the paths are valid NUL-terminated strings; the fd opened is closed at once.
    unsafe {
        let ret = match check {
            Check::Open(path) => {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::close(fd);
                }
                fd
            }
            Check::MknodBlock(path, dev) => {
                let ret = libc::mknod(path.as_ptr(), libc::S_IFBLK | 0o600, *dev);
                if ret == 0 {
                    libc::unlink(path.as_ptr());
                }
                ret
            }
        };
        if ret < 0 {
            *libc::__errno_location()
        } else {
            0
        }
    }
}

/// A forked child that runs `checks` each time it is told to, and reports the errnos.
struct CheckingChild {
    pid: libc::pid_t,
    commands: fs::File,
    results: fs::File,
    checks: usize,
}

impl CheckingChild {
    fn spawn(checks: &[Check]) -> CheckingChild {
        let (command_read, command_write) = pipe();
        let (result_read, result_write) = pipe();
        // SAFETY: the child only makes raw syscalls on memory allocated before the fork, then
        // leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let mut command = 0u8;
            // SAFETY: reads into and writes from live stack values.
            unsafe {
                while libc::read(
                    command_read.as_raw_fd(),
                    (&mut command as *mut u8).cast(),
                    1,
                ) == 1
                    && command == b'r'
                {
                    for check in checks {
                        let errno = run_check(check);
                        libc::write(result_write.as_raw_fd(), (&errno as *const i32).cast(), 4);
                    }
                }
                libc::_exit(0);
            }
        }
        CheckingChild {
            pid,
            commands: command_write.into(),
            results: result_read.into(),
            checks: checks.len(),
        }
    }

    fn run_checks(&mut self) -> Vec<i32> {
        self.commands.write_all(b"r").unwrap();
        let mut errnos = vec![0i32; self.checks];
        for errno in &mut errnos {
            let mut bytes = [0u8; 4];
            self.results.read_exact(&mut bytes).unwrap();
            *errno = i32::from_ne_bytes(bytes);
        }
        errnos
    }
}

impl Drop for CheckingChild {
    fn drop(&mut self) {
        // SAFETY: pid is our child, not yet reaped.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new descriptors that we now own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn ours(cgroup: &DeviceCgroup) -> Vec<u32> {
    let attached = cgroup.query().unwrap();
    attached
        .iter()
        .filter(|p| p.is_ours())
        .map(|p| p.id)
        .collect()
}

const DENY_ALL: Rule = Rule::deny(DeviceKind::All, None, None, Access::ALL);
const DEV_NULL: Rule = Rule::allow(DeviceKind::Char, Some(1), Some(3), Access::ALL);
const DEV_ZERO: Rule = Rule::allow(DeviceKind::Char, Some(1), Some(5), Access::ALL);

#[test]
fn filter_is_enforced_and_replaced_in_place() {
    require_root();
    let cgroup = TempCgroup::create("enforce");
    let dir = TempDir::create("enforce");
    let (host_node, disk) = openable_block_node(&dir.0);

    let filter = DeviceCgroup::open(&cgroup.0).unwrap();
    let first = filter.apply(&[DENY_ALL, DEV_NULL]).unwrap();
    assert_eq!(ours(&filter), [first]);

    let checks = [
        Check::Open(c"/dev/null".into()),
        Check::Open(c"/dev/zero".into()),
        Check::MknodBlock(cstring(&dir.0.join("child-disk")), disk),
        Check::Open(cstring(&host_node)),
    ];
    // The filter on the container's cgroup also holds in cgroups made below it later.
    let inner = cgroup.child("inner");
    let mut child = CheckingChild::spawn(&checks);
    fs::write(inner.0.join("cgroup.procs"), child.pid.to_string()).unwrap();
    assert_eq!(
        child.run_checks(),
        [0, libc::EPERM, libc::EPERM, libc::EPERM],
        "null, zero, mknod disk, open disk under [deny all, allow c 1:3 rwm]"
    );

    let second = filter.apply(&[DENY_ALL, DEV_NULL, DEV_ZERO]).unwrap();
    assert_ne!(second, first);
    assert_eq!(ours(&filter), [second]);
    assert_eq!(filter.query().unwrap().len(), 1);
    assert_eq!(
        child.run_checks(),
        [0, 0, libc::EPERM, libc::EPERM],
        "null, zero, mknod disk, open disk after allowing c 1:5"
    );

    assert_eq!(filter.detach_all().unwrap(), 1);
    assert!(filter.query().unwrap().is_empty());
    assert_eq!(
        child.run_checks(),
        [0, 0, 0, 0],
        "null, zero, mknod disk, open disk without a filter"
    );
}

#[test]
fn programs_of_others_are_left_alone() {
    require_root();
    let cgroup = TempCgroup::create("foreign");
    let filter = DeviceCgroup::open(&cgroup.0).unwrap();
    let allow_all = Rule::allow(DeviceKind::All, None, None, Access::ALL);
    let foreign = Program::load_named(&compile(&[allow_all]), "other_tool").unwrap();
    filter.install(&foreign).unwrap();

    let first = filter.apply(&[DEV_NULL]).unwrap();
    let second = filter.apply(&[DEV_NULL, DEV_ZERO]).unwrap();
    let attached = filter.query().unwrap();
    let summary: Vec<(u32, &str)> = attached.iter().map(|p| (p.id, p.name.as_str())).collect();
    assert_eq!(
        summary,
        [(foreign.id(), "other_tool"), (second, PROGRAM_NAME)],
        "first of ours was {first}"
    );

    // Installing the program that is already attached changes nothing.
    let current = Program::load(&[DEV_NULL]).unwrap();
    filter.install(&current).unwrap();
    filter.install(&current).unwrap();
    assert_eq!(ours(&filter), [current.id()]);

    assert_eq!(filter.detach_all().unwrap(), 1);
    let left: Vec<u32> = filter.query().unwrap().iter().map(|p| p.id).collect();
    assert_eq!(left, [foreign.id()]);
}

#[test]
fn a_rejected_program_reports_the_verifier_log() {
    require_root();
    // Returns r0 without setting it: the verifier refuses it and says why.
    let insns = [syscontainer_device_filter::Insn::new(
        syscontainer_device_filter::opcode::JMP_EXIT,
        0,
        0,
        0,
        0,
    )];
    let error = Program::load_named(&insns, PROGRAM_NAME).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("verifier log"), "{message}");
    assert!(message.contains("R0"), "{message}");
}

#[test]
fn opening_a_missing_cgroup_names_it() {
    let error = DeviceCgroup::open("/sys/fs/cgroup/unified/no-such-cgroup-here").unwrap_err();
    assert!(error.to_string().contains("no-such-cgroup-here"), "{error}");
}

/// A forked child in `cgroup` that opens `/dev/zero` in a loop until told to stop, then reports
/// (attempts, successes).
fn hammer_dev_zero(cgroup: &Path, while_running: impl FnOnce()) -> (u64, u64) {
    let (command_read, command_write) = pipe();
    let (result_read, result_write) = pipe();
    // SAFETY: sets a flag on a descriptor we own.
    unsafe { libc::fcntl(command_read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let (ready_read, ready_write) = pipe();
    // SAFETY: as in CheckingChild::spawn, the child makes raw syscalls only.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let mut counts = [0u64; 2];
        let mut byte = 0u8;
        // SAFETY: raw syscalls on live stack values and a static path.
        unsafe {
            libc::read(ready_read.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            while libc::read(command_read.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) != 1 {
                counts[0] += 1;
                let fd = libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    counts[1] += 1;
                    libc::close(fd);
                }
            }
            libc::write(result_write.as_raw_fd(), counts.as_ptr().cast(), 16);
            libc::_exit(0);
        }
    }
    let child = CheckingChild {
        pid,
        commands: command_write.into(),
        results: result_read.into(),
        checks: 0,
    };
    drop((ready_read, result_write));
    fs::write(cgroup.join("cgroup.procs"), pid.to_string()).unwrap();
    fs::File::from(ready_write).write_all(b"g").unwrap();
    while_running();
    let mut child = child;
    child.commands.write_all(b"q").unwrap();
    let mut bytes = [0u8; 16];
    child.results.read_exact(&mut bytes).unwrap();
    let attempts = u64::from_ne_bytes(bytes[..8].try_into().unwrap());
    let successes = u64::from_ne_bytes(bytes[8..].try_into().unwrap());
    (attempts, successes)
}

#[test]
fn replacing_never_leaves_the_cgroup_unfiltered() {
    require_root();
    let cgroup = TempCgroup::create("window");
    let filter = DeviceCgroup::open(&cgroup.0).unwrap();
    filter.apply(&[DEV_NULL]).unwrap();
    // Both rule lists deny /dev/zero: any open that succeeds ran without a filter of ours.
    let (attempts, successes) = hammer_dev_zero(&cgroup.0, || {
        for round in 0..400 {
            let rules: &[Rule] = if round % 2 == 0 {
                &[DENY_ALL, DEV_NULL]
            } else {
                &[DEV_NULL]
            };
            filter.apply(rules).unwrap();
        }
    });
    assert!(attempts > 1000, "the child only tried {attempts} opens");
    assert_eq!(
        successes, 0,
        "/dev/zero opened {successes} of {attempts} times"
    );
    assert_eq!(ours(&filter).len(), 1);
}

/// Attaches like a runtime that crashed before cleaning up: a plain multi attach, no replace.
fn attach_without_replace(cgroup: &DeviceCgroup, program: &Program) {
    #[repr(C)]
    struct AttachAttr {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        replace_bpf_fd: u32,
    }
    let dir = fs::File::open(cgroup.path()).unwrap();
    let mut attr = AttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: program.as_fd().as_raw_fd() as u32,
        attach_type: 6,  // BPF_CGROUP_DEVICE
        attach_flags: 2, // BPF_F_ALLOW_MULTI
        replace_bpf_fd: 0,
    };
    // SAFETY: attr is a zeroed-tail prefix of union bpf_attr for BPF_PROG_ATTACH (8).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            8 as libc::c_long,
            &mut attr as *mut AttachAttr,
            std::mem::size_of::<AttachAttr>() as libc::c_uint,
        )
    };
    assert_eq!(ret, 0, "attach: {}", std::io::Error::last_os_error());
}

#[test]
fn leftover_programs_of_ours_are_removed() {
    require_root();
    let cgroup = TempCgroup::create("leftover");
    let filter = DeviceCgroup::open(&cgroup.0).unwrap();
    let first = filter.apply(&[DEV_NULL]).unwrap();
    let leftover = Program::load(&[DEV_NULL, DEV_ZERO]).unwrap();
    attach_without_replace(&filter, &leftover);
    assert_eq!(ours(&filter), [first, leftover.id()]);

    let current = filter.apply(&[DEV_NULL]).unwrap();
    assert_eq!(ours(&filter), [current]);
}
