//! FUSE over io_uring (Linux 6.14+): one request queue per CPU, each served by a thread pinned
//! to that CPU, so a request is answered on the CPU that made it. Over `/dev/fuse` a request
//! goes to whichever worker has waited longest, often on another CPU, and on a virtual machine
//! that wake-up costs more than the daemon's own work (docs/performance/lxcfs.md, round three).
//!
//! The protocol (`include/uapi/linux/fuse.h`): once FUSE_INIT has negotiated
//! `FUSE_OVER_IO_URING`, every queue entry is handed to the kernel with a REGISTER command
//! carrying two buffers, the headers and the payload. The command completes when a request
//! fills them; the answer goes back in the same buffers with COMMIT_AND_FETCH, which also waits
//! for the next request. The kernel switches the connection over once every CPU's queue has an
//! entry. FORGET and INTERRUPT still come through `/dev/fuse`, where fuser serves them.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType};
use io_uring::{opcode, squeue, types, IoUring};

use crate::fs::{slice_at, LxcFs, TTL, VIEW_OPEN_FLAGS};

/// The payload buffer of a queue entry: at least the connection's largest request, which
/// FUSE_INIT caps at this size (`max_write`, `max_readahead`).
pub const PAYLOAD_SIZE: usize = 128 * 1024;
/// Entries per CPU: requests of one CPU answered without queueing in the kernel.
const QUEUE_DEPTH: usize = 8;
/// How long a queue retries REGISTER while the kernel has not yet processed the INIT reply.
const REGISTER_PATIENCE: Duration = Duration::from_secs(10);

const CMD_REGISTER: u32 = 1;
const CMD_COMMIT_AND_FETCH: u32 = 2;

/// `struct fuse_uring_req_header`: in/out header (128 bytes), per-opcode header (128 bytes),
/// `struct fuse_uring_ent_in_out` (32 bytes).
const HEADER_SIZE: usize = 288;
const OP_IN: usize = 128;
const ENT_COMMIT_ID: usize = 264;
const ENT_PAYLOAD_SZ: usize = 272;

/// `struct fuse_out_header`.
const OUT_HEADER_SIZE: u32 = 16;

mod op {
    pub const LOOKUP: u32 = 1;
    pub const GETATTR: u32 = 3;
    pub const SETATTR: u32 = 4;
    pub const MKNOD: u32 = 8;
    pub const MKDIR: u32 = 9;
    pub const UNLINK: u32 = 10;
    pub const RMDIR: u32 = 11;
    pub const RENAME: u32 = 12;
    pub const OPEN: u32 = 14;
    pub const READ: u32 = 15;
    pub const WRITE: u32 = 16;
    pub const STATFS: u32 = 17;
    pub const RELEASE: u32 = 18;
    pub const SETXATTR: u32 = 21;
    pub const REMOVEXATTR: u32 = 24;
    pub const OPENDIR: u32 = 27;
    pub const READDIR: u32 = 28;
    pub const RELEASEDIR: u32 = 29;
    pub const CREATE: u32 = 35;
    pub const RENAME2: u32 = 45;
}

/// One request as the kernel wrote it into a queue entry.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub opcode: u32,
    pub nodeid: u64,
    pub pid: u32,
    /// The per-opcode header (`fuse_open_in`, `fuse_read_in`, ...), zeros if it has none.
    pub op_in: &'a [u8],
    /// The remaining arguments, e.g. LOOKUP's name.
    pub payload: &'a [u8],
}

impl<'a> Request<'a> {
    /// Reads a request from an entry's header buffer and the `payload_sz` bytes of its payload.
    pub(crate) fn parse(header: &'a [u8], payload: &'a [u8]) -> Result<Self, Errno> {
        if header.len() < HEADER_SIZE {
            return Err(Errno::EIO);
        }
        let size = u32_at(header, ENT_PAYLOAD_SZ) as usize;
        let payload = payload.get(..size).ok_or(Errno::EIO)?;
        Ok(Request {
            opcode: u32_at(header, 4),
            nodeid: u64_at(header, 16),
            pid: u32_at(header, 32),
            op_in: &header[OP_IN..OP_IN + 128],
            payload,
        })
    }
}

/// The answer to `request`: the reply's payload, or the error to return.
pub(crate) fn respond(views: &LxcFs, request: &Request) -> Result<Vec<u8>, Errno> {
    let nodeid = request.nodeid;
    match request.opcode {
        op::LOOKUP => {
            let name = request.payload.split(|&b| b == 0).next().unwrap_or(&[]);
            let attr = views.lookup_entry(nodeid, OsStr::from_bytes(name))?;
            Ok(entry_out(&attr, TTL))
        }
        op::GETATTR => {
            let (attr, ttl) = views.attr_of(nodeid)?;
            Ok(attr_out(&attr, ttl))
        }
        op::OPEN => {
            let flags = u32_at(request.op_in, 0) as i32;
            let handle = views.open_view(nodeid, flags, request.pid)?;
            Ok(open_out(handle, VIEW_OPEN_FLAGS.bits()))
        }
        op::READ => {
            let (handle, offset, size) = read_in(request.op_in);
            let content = views.content_at(handle, offset, request.pid)?;
            Ok(slice_at(&content, offset, size.min(PAYLOAD_SIZE as u32)).to_vec())
        }
        op::RELEASE => {
            views.release_view(u64_at(request.op_in, 0));
            Ok(Vec::new())
        }
        op::OPENDIR => Ok(open_out(0, 0)),
        op::READDIR => {
            let (_, offset, size) = read_in(request.op_in);
            let entries = views.dir_entries(nodeid)?;
            Ok(dirents(&entries, offset, size.min(PAYLOAD_SIZE as u32)))
        }
        op::RELEASEDIR => Ok(Vec::new()),
        op::STATFS => Ok(statfs_out()),
        // As over /dev/fuse: every change to the tree is refused by the daemon itself.
        op::SETATTR
        | op::MKNOD
        | op::MKDIR
        | op::UNLINK
        | op::RMDIR
        | op::RENAME
        | op::RENAME2
        | op::CREATE
        | op::WRITE
        | op::SETXATTR
        | op::REMOVEXATTR => Err(Errno::EACCES),
        _ => Err(Errno::ENOSYS),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// `fuse_read_in`: file handle, offset, size.
fn read_in(op_in: &[u8]) -> (u64, u64, u32) {
    (u64_at(op_in, 0), u64_at(op_in, 8), u32_at(op_in, 16))
}

fn split_duration(d: Duration) -> (u64, u32) {
    (d.as_secs(), d.subsec_nanos())
}

fn time_parts(t: SystemTime) -> (u64, u32) {
    t.duration_since(UNIX_EPOCH).map_or((0, 0), split_duration)
}

fn file_type_bits(kind: FileType) -> u32 {
    match kind {
        FileType::Directory => libc::S_IFDIR,
        FileType::RegularFile => libc::S_IFREG,
        FileType::Symlink => libc::S_IFLNK,
        FileType::NamedPipe => libc::S_IFIFO,
        FileType::CharDevice => libc::S_IFCHR,
        FileType::BlockDevice => libc::S_IFBLK,
        FileType::Socket => libc::S_IFSOCK,
    }
}

/// `struct fuse_attr`, 88 bytes.
fn push_attr(out: &mut Vec<u8>, attr: &FileAttr) {
    let (atime, atime_ns) = time_parts(attr.atime);
    let (mtime, mtime_ns) = time_parts(attr.mtime);
    let (ctime, ctime_ns) = time_parts(attr.ctime);
    for field in [attr.ino.0, attr.size, attr.blocks, atime, mtime, ctime] {
        out.extend_from_slice(&field.to_ne_bytes());
    }
    let mode = file_type_bits(attr.kind) | u32::from(attr.perm);
    for field in [
        atime_ns,
        mtime_ns,
        ctime_ns,
        mode,
        attr.nlink,
        attr.uid,
        attr.gid,
        attr.rdev,
        attr.blksize,
        attr.flags,
    ] {
        out.extend_from_slice(&field.to_ne_bytes());
    }
}

/// `struct fuse_entry_out`, 128 bytes: the entry and its attributes, both valid for `ttl`.
fn entry_out(attr: &FileAttr, ttl: Duration) -> Vec<u8> {
    let (secs, nanos) = split_duration(ttl);
    let mut out = Vec::with_capacity(128);
    for field in [attr.ino.0, 0, secs, secs] {
        out.extend_from_slice(&field.to_ne_bytes());
    }
    out.extend_from_slice(&nanos.to_ne_bytes());
    out.extend_from_slice(&nanos.to_ne_bytes());
    push_attr(&mut out, attr);
    out
}

/// `struct fuse_attr_out`, 104 bytes.
fn attr_out(attr: &FileAttr, ttl: Duration) -> Vec<u8> {
    let (secs, nanos) = split_duration(ttl);
    let mut out = Vec::with_capacity(104);
    out.extend_from_slice(&secs.to_ne_bytes());
    out.extend_from_slice(&nanos.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    push_attr(&mut out, attr);
    out
}

/// `struct fuse_open_out`, 16 bytes.
fn open_out(handle: u64, open_flags: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&handle.to_ne_bytes());
    out.extend_from_slice(&open_flags.to_ne_bytes());
    out.extend_from_slice(&0i32.to_ne_bytes());
    out
}

/// `struct fuse_kstatfs`, 80 bytes: what fuser answers by default (no blocks, 512-byte
/// blocks, names up to 255 bytes).
fn statfs_out() -> Vec<u8> {
    let mut out = vec![0u8; 80];
    out[40..44].copy_from_slice(&512u32.to_ne_bytes());
    out[44..48].copy_from_slice(&255u32.to_ne_bytes());
    out
}

/// The `struct fuse_dirent` records from index `offset` on that fit in `size` bytes; each
/// record's `off` is the offset of the next one.
fn dirents(entries: &[(u64, FileType, &str)], offset: u64, size: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
        let record = (24 + name.len()).next_multiple_of(8);
        if out.len() + record > size as usize {
            break;
        }
        out.extend_from_slice(&ino.to_ne_bytes());
        out.extend_from_slice(&(index as u64 + 1).to_ne_bytes());
        out.extend_from_slice(&(name.len() as u32).to_ne_bytes());
        out.extend_from_slice(&(file_type_bits(*kind) >> 12).to_ne_bytes());
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len() + record - 24 - name.len(), 0);
    }
    out
}

/// The number of queues the kernel expects: one per possible CPU.
fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let cpus = crate::cpuset::parse_cpu_list(&text)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    match cpus.len() {
        0 => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no possible cpus listed",
        )),
        count => Ok(count),
    }
}

/// One entry's buffers. They are allocated once and never freed: the kernel may write into
/// them until the connection ends, which is when the daemon exits.
struct Entry {
    header: *mut u8,
    payload: *mut u8,
    /// What REGISTER points at: the header and the payload buffer.
    iov: [libc::iovec; 2],
    commit_id: u64,
    registered: bool,
}

impl Entry {
    fn new() -> Entry {
        let header = Box::leak(Box::new([0u64; HEADER_SIZE / 8]))
            .as_mut_ptr()
            .cast::<u8>();
        let payload = Box::leak(vec![0u8; PAYLOAD_SIZE].into_boxed_slice()).as_mut_ptr();
        Entry {
            header,
            payload,
            iov: [
                libc::iovec {
                    iov_base: header.cast(),
                    iov_len: HEADER_SIZE,
                },
                libc::iovec {
                    iov_base: payload.cast(),
                    iov_len: PAYLOAD_SIZE,
                },
            ],
            commit_id: 0,
            registered: false,
        }
    }
}

/// The queues of every possible CPU, made before FUSE_INIT's reply offers io_uring, so that
/// nothing can fail between offering it and registering (the kernel would hold every request
/// until all queues are registered).
pub(crate) struct Queues {
    queues: Vec<Queue>,
}

struct Queue {
    qid: u16,
    ring: IoUring<squeue::Entry128>,
    /// The connection's `/dev/fuse`, once the session has it.
    device: RawFd,
    /// Made once and never resized: the kernel holds pointers to each entry's iovecs.
    entries: Vec<Entry>,
}

// SAFETY: the raw pointers are the entry's own leaked buffers, only touched by the thread
// that owns the queue (and by the kernel while the entry is registered).
unsafe impl Send for Queue {}

impl Queues {
    pub(crate) fn new() -> io::Result<Queues> {
        let count = possible_cpus()?;
        let mut queues = Vec::with_capacity(count);
        for qid in 0..count {
            let qid = u16::try_from(qid).map_err(|_| io::Error::other("too many cpus"))?;
            queues.push(Queue {
                qid,
                ring: IoUring::builder().build(2 * QUEUE_DEPTH as u32)?,
                device: -1,
                entries: (0..QUEUE_DEPTH).map(|_| Entry::new()).collect(),
            });
        }
        Ok(Queues { queues })
    }

    pub(crate) fn len(&self) -> usize {
        self.queues.len()
    }

    /// Starts one thread per queue; each registers once `device` is set (fuser answers
    /// FUSE_INIT before it hands the session's device out). Called once the INIT reply offers
    /// io_uring: a queue that cannot start leaves its CPU's requests waiting, so that is fatal.
    pub(crate) fn serve(self, views: Arc<LxcFs>, device: Arc<OnceLock<OwnedFd>>) {
        for mut queue in self.queues {
            let views = views.clone();
            let device = device.clone();
            let qid = queue.qid;
            let started = std::thread::Builder::new()
                .name(format!("fuse-ring-{qid}"))
                .spawn(move || {
                    queue.device = device.wait().as_raw_fd();
                    queue.serve(&views)
                });
            if let Err(e) = started {
                fatal(qid, &format!("cannot start its thread: {e}"));
            }
        }
    }
}

fn fatal(qid: u16, what: &str) -> ! {
    tracing::error!("fuse over io_uring, queue {qid}: {what}");
    std::process::exit(1);
}

/// A `URING_CMD` for the fuse device, with `struct fuse_uring_cmd_req` in its command data.
fn fuse_command(
    device: RawFd,
    command: u32,
    qid: u16,
    commit_id: u64,
    iov: Option<&[libc::iovec; 2]>,
) -> squeue::Entry128 {
    let mut data = [0u8; 80];
    data[8..16].copy_from_slice(&commit_id.to_ne_bytes());
    data[16..18].copy_from_slice(&qid.to_ne_bytes());
    let mut cmd = opcode::UringCmd80::new(types::Fd(device), command).cmd(data);
    if let Some(iov) = iov {
        cmd = cmd.addr(Some(iov.as_ptr() as u64));
    }
    let entry = cmd.build();
    match iov {
        Some(iov) => with_len(entry, iov.len() as u32),
        None => entry,
    }
}

/// Sets the SQE's `len`, which `UringCmd80` does not expose: REGISTER carries the number of
/// iovecs there.
fn with_len(entry: squeue::Entry128, len: u32) -> squeue::Entry128 {
    // SAFETY: `Entry128` is `repr(C)`: the 64-byte `struct io_uring_sqe` then 64 bytes of
    // command data, no padding, no pointers of its own; `len` is the u32 at offset 24 of
    // `io_uring_sqe` (include/uapi/linux/io_uring.h). Checked by a unit test below.
    let mut bytes: [u8; 128] = unsafe { std::mem::transmute(entry) };
    bytes[24..28].copy_from_slice(&len.to_ne_bytes());
    unsafe { std::mem::transmute::<[u8; 128], squeue::Entry128>(bytes) }
}

impl Queue {
    fn serve(mut self, views: &LxcFs) {
        pin_to_cpu(self.qid);
        for index in 0..self.entries.len() {
            self.register(index);
        }
        let registering_since = Instant::now();
        let mut live = self.entries.len();
        let mut completed = Vec::with_capacity(QUEUE_DEPTH);
        while live > 0 {
            if let Err(e) = self.ring.submit_and_wait(1) {
                if e.kind() != io::ErrorKind::Interrupted {
                    fatal(self.qid, &format!("cannot wait for requests: {e}"));
                }
                continue;
            }
            completed.clear();
            completed.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data() as usize, c.result())),
            );
            for &(index, result) in &completed {
                match -result {
                    0 => {
                        self.entries[index].registered = true;
                        self.answer(index, views);
                        self.commit(index);
                    }
                    // REGISTER before the kernel has processed the INIT reply.
                    libc::EAGAIN | libc::EINTR if !self.entries[index].registered => {
                        if registering_since.elapsed() > REGISTER_PATIENCE {
                            fatal(self.qid, "the kernel kept refusing to register (EAGAIN)");
                        }
                        std::thread::sleep(Duration::from_millis(1));
                        self.register(index);
                    }
                    libc::EAGAIN | libc::EINTR => self.commit(index),
                    // The connection ended (unmount, abort) or the ring is going away.
                    libc::ENOTCONN | libc::ECONNABORTED | libc::ECANCELED => live -= 1,
                    errno => fatal(
                        self.qid,
                        &format!("command failed: {}", io::Error::from_raw_os_error(errno)),
                    ),
                }
            }
        }
        tracing::debug!(qid = self.qid, "fuse over io_uring queue ended");
    }

    fn register(&mut self, index: usize) {
        let entry = fuse_command(
            self.device,
            CMD_REGISTER,
            self.qid,
            0,
            Some(&self.entries[index].iov),
        )
        .user_data(index as u64);
        self.push(entry);
    }

    fn commit(&mut self, index: usize) {
        let entry = fuse_command(
            self.device,
            CMD_COMMIT_AND_FETCH,
            self.qid,
            self.entries[index].commit_id,
            None,
        )
        .user_data(index as u64);
        self.push(entry);
    }

    fn push(&mut self, entry: squeue::Entry128) {
        // The ring has room for twice the entries, and each entry has one command at a time.
        // SAFETY: the buffers and iovecs the command points at live as long as the process.
        if unsafe { self.ring.submission().push(&entry) }.is_err() {
            fatal(self.qid, "submission queue full");
        }
    }

    /// Reads the request in entry `index`, answers it and writes the reply in its place.
    fn answer(&mut self, index: usize, views: &LxcFs) {
        let qid = self.qid;
        let entry = &mut self.entries[index];
        // SAFETY: the kernel wrote the request before completing the command and does not
        // touch the buffers again until the next command for this entry is submitted.
        let header = unsafe { std::slice::from_raw_parts_mut(entry.header, HEADER_SIZE) };
        let payload = unsafe { std::slice::from_raw_parts_mut(entry.payload, PAYLOAD_SIZE) };
        entry.commit_id = u64_at(header, ENT_COMMIT_ID);
        let unique = u64_at(header, 8);
        let reply = Request::parse(header, payload).and_then(|request| {
            tracing::trace!(qid, opcode = request.opcode, "request");
            respond(views, &request)
        });
        let (error, size) = match reply {
            Ok(bytes) => {
                payload[..bytes.len()].copy_from_slice(&bytes);
                (0, bytes.len() as u32)
            }
            Err(errno) => (-errno.code(), 0),
        };
        header[0..4].copy_from_slice(&(OUT_HEADER_SIZE + size).to_ne_bytes());
        header[4..8].copy_from_slice(&error.to_ne_bytes());
        header[8..16].copy_from_slice(&unique.to_ne_bytes());
        header[ENT_PAYLOAD_SZ..ENT_PAYLOAD_SZ + 4].copy_from_slice(&size.to_ne_bytes());
    }
}

/// Runs the calling thread on CPU `cpu` only, where the kernel queues that CPU's requests.
fn pin_to_cpu(cpu: u16) {
    let mut set = nix::sched::CpuSet::new();
    let pinned = set
        .set(usize::from(cpu))
        .and_then(|()| nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set));
    if let Err(e) = pinned {
        // An offline CPU: its queue still has to exist, and its thread may run anywhere.
        tracing::debug!(cpu, "queue thread not pinned: {e}");
    }
}

/// The header of a request of `opcode` for inode `nodeid` from `pid`, as the kernel lays it
/// out; for tests.
#[cfg(test)]
fn request_header(opcode: u32, nodeid: u64, pid: u32, op_in: &[u8], payload_sz: u32) -> Vec<u8> {
    let mut header = vec![0u8; HEADER_SIZE];
    header[0..4].copy_from_slice(&40u32.to_ne_bytes()); // sizeof(struct fuse_in_header)
    header[4..8].copy_from_slice(&opcode.to_ne_bytes());
    header[8..16].copy_from_slice(&77u64.to_ne_bytes());
    header[16..24].copy_from_slice(&nodeid.to_ne_bytes());
    header[32..36].copy_from_slice(&pid.to_ne_bytes());
    header[OP_IN..OP_IN + op_in.len()].copy_from_slice(op_in);
    header[ENT_PAYLOAD_SZ..ENT_PAYLOAD_SZ + 4].copy_from_slice(&payload_sz.to_ne_bytes());
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ino: u64, kind: FileType, perm: u16) -> FileAttr {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        FileAttr {
            ino: fuser::INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: at,
            mtime: at,
            ctime: at,
            crtime: at,
            kind,
            perm,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    #[test]
    fn replies_have_the_kernels_struct_sizes() {
        let file = attr(100, FileType::RegularFile, 0o444);
        assert_eq!(entry_out(&file, TTL).len(), 128);
        assert_eq!(attr_out(&file, TTL).len(), 104);
        assert_eq!(open_out(1, 0).len(), 16);
        assert_eq!(statfs_out().len(), 80);
    }

    #[test]
    fn an_entry_carries_inode_ttls_and_mode() {
        let out = entry_out(
            &attr(100, FileType::RegularFile, 0o444),
            Duration::new(3600, 7),
        );
        assert_eq!(u64_at(&out, 0), 100, "nodeid");
        assert_eq!(u64_at(&out, 16), 3600, "entry_valid");
        assert_eq!(u64_at(&out, 24), 3600, "attr_valid");
        assert_eq!(u32_at(&out, 32), 7, "entry_valid_nsec");
        let attr = &out[40..];
        assert_eq!(u64_at(attr, 0), 100, "ino");
        assert_eq!(u64_at(attr, 24), 1_700_000_000, "atime");
        assert_eq!(u32_at(attr, 48), 5, "atimensec");
        assert_eq!(u32_at(attr, 60), libc::S_IFREG | 0o444, "mode");
        assert_eq!(u32_at(attr, 64), 1, "nlink");
        assert_eq!(u32_at(attr, 80), 4096, "blksize");
    }

    #[test]
    fn directory_records_are_aligned_and_stop_at_the_size() {
        let entries = [
            (1, FileType::Directory, "."),
            (1, FileType::Directory, ".."),
            (2, FileType::Directory, "proc"),
            (100, FileType::RegularFile, "meminfo"),
        ];
        let all = dirents(&entries, 0, 4096);
        assert_eq!(
            all.len(),
            4 * 32,
            "24 bytes + a name of up to 8, padded to 8"
        );
        assert_eq!(u64_at(&all, 96), 100, "ino of the fourth");
        assert_eq!(u64_at(&all, 104), 4, "its off: the next index");
        assert_eq!(u32_at(&all, 112), 7, "namelen");
        assert_eq!(u32_at(&all, 116), libc::DT_REG as u32, "type");
        assert_eq!(&all[120..127], b"meminfo");
        assert_eq!(
            dirents(&entries, 2, 4096),
            all[64..].to_vec(),
            "from offset 2"
        );
        assert_eq!(dirents(&entries, 0, 63).len(), 32, "only what fits");
        assert!(dirents(&entries, 4, 4096).is_empty());
    }

    #[test]
    fn a_request_is_read_from_the_kernels_layout() {
        let mut op_in = [0u8; 40];
        op_in[0..8].copy_from_slice(&9u64.to_ne_bytes());
        op_in[8..16].copy_from_slice(&4096u64.to_ne_bytes());
        op_in[16..20].copy_from_slice(&131072u32.to_ne_bytes());
        let header = request_header(op::READ, 100, 4242, &op_in, 0);
        let request = Request::parse(&header, &[]).unwrap();
        assert_eq!(
            (request.opcode, request.nodeid, request.pid),
            (op::READ, 100, 4242)
        );
        assert_eq!(read_in(request.op_in), (9, 4096, 131072));

        let name = b"meminfo\0";
        let header = request_header(op::LOOKUP, 2, 1, &[], name.len() as u32);
        assert_eq!(Request::parse(&header, name).unwrap().payload, name);
        let header = request_header(op::LOOKUP, 2, 1, &[], 9);
        assert_eq!(
            Request::parse(&header, name).unwrap_err(),
            Errno::EIO,
            "a payload size beyond the buffer"
        );
    }

    #[test]
    fn register_points_at_two_iovecs() {
        let iov = [
            libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: HEADER_SIZE,
            },
            libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: PAYLOAD_SIZE,
            },
        ];
        let entry = fuse_command(5, CMD_REGISTER, 3, 0, Some(&iov));
        let bytes: [u8; 128] = unsafe { std::mem::transmute(entry) };
        assert_eq!(bytes[0], opcode::UringCmd80::CODE, "opcode");
        assert_eq!(u32_at(&bytes, 4), 5, "fd");
        assert_eq!(u32_at(&bytes, 8), CMD_REGISTER, "cmd_op");
        assert_eq!(u64_at(&bytes, 16), iov.as_ptr() as u64, "addr");
        assert_eq!(u32_at(&bytes, 24), 2, "len: two iovecs");
        // The command data starts at offset 48 of a 128-byte SQE.
        assert_eq!(u64_at(&bytes, 48 + 8), 0, "commit_id");
        assert_eq!(
            u16::from_ne_bytes([bytes[48 + 16], bytes[48 + 17]]),
            3,
            "qid"
        );

        let commit = fuse_command(5, CMD_COMMIT_AND_FETCH, 1, 0xabc, None);
        let bytes: [u8; 128] = unsafe { std::mem::transmute(commit) };
        assert_eq!(u32_at(&bytes, 24), 0, "no iovecs");
        assert_eq!(u64_at(&bytes, 48 + 8), 0xabc, "commit_id");
    }
}
