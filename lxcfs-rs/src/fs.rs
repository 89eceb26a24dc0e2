//! FUSE glue: a fixed tree of view files. Content is rendered once per open and kept in the
//! file handle, so consecutive reads at any offset see one consistent snapshot.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::cache::ViewCache;
use crate::process::{Caller, Resolver};
use crate::render::{LimitSet, Renderer, ViewFile};
use crate::uring;
use crate::watch::LimitWatch;

/// Entry and attribute lifetime in the kernel's cache. The tree and its attributes never
/// change while mounted (size 0, the mount's times), so a reader idle for longer than a
/// short TTL would only pay LOOKUP and GETATTR round trips for nothing.
pub(crate) const TTL: Duration = Duration::from_secs(3600);

/// The root's attributes expire sooner: `stat` of the mount point must reach the daemon, so
/// that a restarted daemon sees a dead mount left there (ENOTCONN) and clears it.
const ROOT_ATTR_TTL: Duration = Duration::from_secs(1);
const ROOT_INO: u64 = 1;
const FIRST_FILE_INO: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Dir,
    File(ViewFile),
}

#[derive(Debug, Clone, Copy)]
struct Node {
    ino: u64,
    parent: u64,
    name: &'static str,
    kind: NodeKind,
}

/// Directories of the tree: (inode, parent inode, name).
const DIRS: [(u64, u64, &str); 6] = [
    (ROOT_INO, ROOT_INO, ""),
    (2, ROOT_INO, "proc"),
    (3, ROOT_INO, "sys"),
    (4, 3, "devices"),
    (5, 4, "system"),
    (6, 5, "cpu"),
];

fn build_tree() -> Vec<Node> {
    let mut nodes: Vec<Node> = DIRS
        .iter()
        .map(|&(ino, parent, name)| Node {
            ino,
            parent,
            name,
            kind: NodeKind::Dir,
        })
        .collect();
    for (i, view) in ViewFile::ALL.iter().enumerate() {
        let path = view.relative_path();
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let parent = match dir {
            "proc" => 2,
            _ => 6,
        };
        nodes.push(Node {
            ino: FIRST_FILE_INO + i as u64,
            parent,
            name,
            kind: NodeKind::File(*view),
        });
    }
    nodes
}

/// The lxcfs-rs filesystem.
#[derive(Debug)]
pub struct LxcFs {
    renderer: Arc<Renderer>,
    resolver: Resolver,
    views: ViewCache,
    /// `None` if inotify is unavailable: then every limit file is re-read at every open.
    watch: Option<LimitWatch>,
    nodes: Vec<Node>,
    handles: Mutex<HashMap<u64, OpenView>>,
    next_handle: AtomicU64,
    mounted_at: SystemTime,
}

/// An opened view: the snapshot its reads return, and whether one has returned it yet.
#[derive(Debug)]
struct OpenView {
    view: ViewFile,
    content: Arc<Vec<u8>>,
    read: bool,
}

impl LxcFs {
    pub fn new(renderer: Arc<Renderer>, resolver: Resolver) -> Self {
        LxcFs {
            renderer,
            resolver,
            views: ViewCache::default(),
            watch: LimitWatch::new()
                .inspect_err(|e| {
                    tracing::warn!("no inotify, limits are re-read at every open: {e}")
                })
                .ok(),
            nodes: build_tree(),
            handles: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            mounted_at: SystemTime::now(),
        }
    }

    fn node(&self, ino: INodeNo) -> Option<&Node> {
        self.nodes.iter().find(|n| n.ino == ino.0)
    }

    fn attr(&self, node: &Node) -> FileAttr {
        let (kind, perm, nlink) = match node.kind {
            NodeKind::Dir => (FileType::Directory, 0o555, 2),
            NodeKind::File(_) => (FileType::RegularFile, 0o444, 1),
        };
        FileAttr {
            ino: INodeNo(node.ino),
            // Like /proc: the size is unknown until rendered; reads use direct I/O.
            size: 0,
            blocks: 0,
            atime: self.mounted_at,
            mtime: self.mounted_at,
            ctime: self.mounted_at,
            crtime: self.mounted_at,
            kind,
            perm,
            nlink,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// Renders `view` for the process `pid` (a container's view may come from the
    /// [`ViewCache`]: its usage counters at most [`crate::cache::VIEW_TTL`] old, its limits
    /// checked at this call).
    pub fn content_for(&self, view: ViewFile, pid: u32) -> crate::Result<Arc<Vec<u8>>> {
        match self.resolver.resolve(pid)? {
            Caller::Host => self.renderer.render_host(view).map(Arc::new),
            Caller::Container(container) if view.cacheable() => {
                self.cached_content(view, &container)
            }
            Caller::Container(container) => self.renderer.render(view, &container).map(Arc::new),
        }
    }

    /// A container's view from the cache if no limit it depends on changed since it was
    /// rendered: the watched limit files by the watch's generation, the others re-read.
    fn cached_content(
        &self,
        view: ViewFile,
        container: &Arc<crate::render::Container>,
    ) -> crate::Result<Arc<Vec<u8>>> {
        let set = match self.watch {
            Some(_) => LimitSet::Unwatchable,
            None => LimitSet::All,
        };
        let limits = match self.renderer.limits(view, container, set) {
            Ok(limits) => limits,
            Err(e) => {
                tracing::debug!(?view, "rendering uncached, limits unreadable: {e}");
                return self.renderer.render(view, container).map(Arc::new);
            }
        };
        let generation = self.watch.as_ref().map_or(0, LimitWatch::generation);
        self.views
            .get_or_render(view, container, &limits, generation, Instant::now(), || {
                // Watch before rendering: a write after this point shows as a new generation.
                let Some(watch) = &self.watch else {
                    return Ok((self.renderer.render(view, container)?, Some(0)));
                };
                let valid_for = watch.watch(
                    &self.renderer.watched_limit_files(view, container),
                    (container.init_pid, container.init_start_ticks),
                );
                let content = self.renderer.render_at(view, container, valid_for)?;
                Ok((content, valid_for))
            })
    }

    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<u64, OpenView>> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn errno_of(error: &crate::Error) -> Errno {
    if error.is_not_found() {
        Errno::ENOENT
    } else {
        Errno::EIO
    }
}

/// The largest READ the kernel sends (the `max_read` mount option). Views are read with direct
/// I/O, for which the kernel pins `min(buffer, max_read)` of the reader's buffer per request:
/// `cat`'s 128 KiB buffer meant 32 pages pinned, dirtied and released twice (the read and the
/// read at EOF) for a 30-byte loadavg, about a sixth of a read's cost. 16 KiB holds every view
/// of a container with up to a dozen CPUs in one request; a larger view takes one more round
/// trip per 16 KiB. Measured in docs/performance/lxcfs.md, round six.
pub const MAX_READ: u32 = 16 * 1024;

/// Flags of every opened view: direct I/O (the size is unknown until rendered) and no FLUSH
/// (nothing is buffered, so close(2) needs no round trip).
pub(crate) const VIEW_OPEN_FLAGS: FopenFlags =
    FopenFlags::FOPEN_DIRECT_IO.union(FopenFlags::FOPEN_NOFLUSH);

/// The operations both transports (`/dev/fuse` through fuser, and io_uring) answer with.
impl LxcFs {
    /// The attributes of `name` in directory `parent`.
    pub(crate) fn lookup_entry(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        self.nodes
            .iter()
            .find(|n| n.parent == parent && n.ino != ROOT_INO && OsStr::new(n.name) == name)
            .map(|node| self.attr(node))
            .ok_or(Errno::ENOENT)
    }

    /// The attributes of inode `ino` and how long the kernel may cache them.
    pub(crate) fn attr_of(&self, ino: u64) -> Result<(FileAttr, Duration), Errno> {
        match self.node(INodeNo(ino)) {
            Some(node) if node.ino == ROOT_INO => Ok((self.attr(node), ROOT_ATTR_TTL)),
            Some(node) => Ok((self.attr(node), TTL)),
            None => Err(Errno::ENOENT),
        }
    }

    /// Renders the view `ino` for process `pid` and keeps it under a new file handle.
    pub(crate) fn open_view(&self, ino: u64, flags: i32, pid: u32) -> Result<u64, Errno> {
        let Some(NodeKind::File(view)) = self.node(INodeNo(ino)).map(|n| n.kind) else {
            return Err(Errno::EISDIR);
        };
        if flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
            return Err(Errno::EACCES);
        }
        let content = self.rendered(view, pid)?;
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.handles().insert(
            handle,
            OpenView {
                view,
                content,
                read: false,
            },
        );
        Ok(handle)
    }

    /// What a read of handle `fh` at `offset` by process `pid` sees: the snapshot rendered at
    /// the open, so that reads in any size see one rendering, except that a read from
    /// offset 0 after the handle has been read renders the view afresh, and that becomes the
    /// handle's snapshot. A re-read of the kernel's own file shows the present too, and
    /// procps 4 relies on it: `top`, `vmstat` and `free -s` open /proc/meminfo and /proc/stat
    /// once and re-read them from the start at every refresh.
    pub(crate) fn content_at(&self, fh: u64, offset: u64, pid: u32) -> Result<Arc<Vec<u8>>, Errno> {
        let view = {
            let mut handles = self.handles();
            let open = handles.get_mut(&fh).ok_or(Errno::EBADF)?;
            if offset != 0 || !open.read {
                open.read = true;
                return Ok(open.content.clone());
            }
            open.view
        };
        let content = self.rendered(view, pid)?;
        if let Some(open) = self.handles().get_mut(&fh) {
            open.content = content.clone();
        }
        Ok(content)
    }

    fn rendered(&self, view: ViewFile, pid: u32) -> Result<Arc<Vec<u8>>, Errno> {
        self.content_for(view, pid).map_err(|e| {
            tracing::warn!(pid, ?view, "cannot render view: {e}");
            errno_of(&e)
        })
    }

    pub(crate) fn release_view(&self, fh: u64) {
        self.handles().remove(&fh);
    }

    /// The entries of directory `ino`, "." and ".." first; an entry's offset is its index + 1.
    pub(crate) fn dir_entries(
        &self,
        ino: u64,
    ) -> Result<Vec<(u64, FileType, &'static str)>, Errno> {
        let Some(dir) = self.node(INodeNo(ino)).filter(|n| n.kind == NodeKind::Dir) else {
            return Err(Errno::ENOTDIR);
        };
        let mut entries = vec![
            (dir.ino, FileType::Directory, "."),
            (dir.parent, FileType::Directory, ".."),
        ];
        entries.extend(
            self.nodes
                .iter()
                .filter(|n| n.parent == dir.ino && n.ino != ROOT_INO)
                .map(|n| {
                    let kind = match n.kind {
                        NodeKind::Dir => FileType::Directory,
                        NodeKind::File(_) => FileType::RegularFile,
                    };
                    (n.ino, kind, n.name)
                }),
        );
        Ok(entries)
    }
}

/// The file system as fuser serves it over `/dev/fuse`. At FUSE_INIT it may also start
/// [`crate::uring`]'s per-CPU queues, which then take every request but FORGET and INTERRUPT.
#[derive(Debug)]
pub struct FuseFs {
    views: Arc<LxcFs>,
    io_uring: IoUring,
    /// The session's `/dev/fuse`, set once fuser has mounted and answered FUSE_INIT.
    device: Arc<OnceLock<OwnedFd>>,
}

/// Whether requests go through FUSE over io_uring (Linux 6.14+, when the host enables it with
/// the `fuse` module parameter `enable_uring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoUring {
    /// When the kernel offers it.
    Auto,
    /// Always: the daemon fails to start if the kernel does not offer it.
    On,
    /// Never: every request through `/dev/fuse`.
    Off,
}

impl FuseFs {
    pub fn new(views: Arc<LxcFs>, io_uring: IoUring, device: Arc<OnceLock<OwnedFd>>) -> Self {
        FuseFs {
            views,
            io_uring,
            device,
        }
    }
}

impl Filesystem for FuseFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        if self.io_uring == IoUring::Off {
            return Ok(());
        }
        if !config
            .capabilities()
            .contains(InitFlags::FUSE_OVER_IO_URING)
        {
            if self.io_uring == IoUring::On {
                return Err(std::io::Error::other(
                    "the kernel does not offer fuse over io_uring",
                ));
            }
            tracing::debug!("fuse over io_uring not offered: serving /dev/fuse");
            return Ok(());
        }
        // Every queue entry holds a payload buffer as large as the biggest request.
        let _ = config.set_max_write(uring::PAYLOAD_SIZE as u32);
        let _ = config.set_max_readahead(uring::PAYLOAD_SIZE as u32);
        match uring::Queues::new() {
            Ok(queues) => {
                config
                    .add_capabilities(InitFlags::FUSE_OVER_IO_URING)
                    .map_err(|_| std::io::Error::other("fuse over io_uring refused"))?;
                tracing::info!(queues = queues.len(), "serving fuse over io_uring");
                queues.serve(self.views.clone(), self.device.clone());
                Ok(())
            }
            Err(e) if self.io_uring == IoUring::On => Err(e),
            Err(e) => {
                tracing::warn!("cannot set up fuse over io_uring, serving /dev/fuse: {e}");
                Ok(())
            }
        }
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.views.lookup_entry(parent.0, name) {
            Ok(attr) => reply.entry(&TTL, &attr, fuser::Generation(0)),
            Err(errno) => reply.error(errno),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.views.attr_of(ino.0) {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(errno) => reply.error(errno),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.views.open_view(ino.0, flags.0, req.pid()) {
            Ok(handle) => reply.opened(FileHandle(handle), VIEW_OPEN_FLAGS),
            Err(errno) => reply.error(errno),
        }
    }

    fn read(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.views.content_at(fh.0, offset, req.pid()) {
            Ok(content) => reply.data(slice_at(&content, offset, size)),
            Err(errno) => reply.error(errno),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        reply.error(Errno::EACCES);
    }

    // Every change to the tree is refused by the daemon itself with EACCES (the files are
    // 0444, the directories 0555), not left to the kernel's read-only mount or to fuser's
    // ENOSYS defaults: truncation, chmod/chown/utimes, creating, removing and renaming.

    fn setattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        _size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        reply.error(Errno::EACCES);
    }

    fn mknod(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EACCES);
    }

    fn mkdir(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply.error(Errno::EACCES);
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EACCES);
    }

    fn rmdir(&self, _req: &Request, _parent: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EACCES);
    }

    fn rename(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _newparent: INodeNo,
        _newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EACCES);
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        _name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        reply.error(Errno::EACCES);
    }

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::EACCES);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        reply.error(Errno::EACCES);
    }

    /// Nothing is buffered. Files are opened with `FOPEN_NOFLUSH`, so a kernel that knows it
    /// never sends FLUSH; an older one gets `ENOSYS` once and then stops sending FLUSH on the
    /// whole mount (close still succeeds). fuser's default would log a warning per mount.
    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.views.release_view(fh.0);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.views.dir_entries(ino.0) {
            Ok(entries) => entries,
            Err(errno) => return reply.error(errno),
        };
        for (index, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*ino), index as u64 + 1, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

/// The part of `content` a read of `size` bytes at `offset` returns (empty past the end).
pub fn slice_at(content: &[u8], offset: u64, size: u32) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(content.len());
    let end = start.saturating_add(size as usize).min(content.len());
    &content[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_reads_reassemble_content() {
        let content = include_bytes!("../tests/fixtures/host/meminfo");
        for chunk in [1u32, 7, 64, 4096] {
            let mut assembled = Vec::new();
            let mut offset = 0u64;
            loop {
                let part = slice_at(content, offset, chunk);
                if part.is_empty() {
                    break;
                }
                assembled.extend_from_slice(part);
                offset += part.len() as u64;
            }
            assert_eq!(assembled, content, "chunk {chunk}");
        }
        assert!(slice_at(content, u64::MAX, 10).is_empty());
    }

    #[test]
    fn tree_has_every_view_once() {
        let nodes = build_tree();
        for view in ViewFile::ALL {
            assert_eq!(
                nodes
                    .iter()
                    .filter(|n| n.kind == NodeKind::File(view))
                    .count(),
                1
            );
        }
        let online = nodes
            .iter()
            .find(|n| n.kind == NodeKind::File(ViewFile::CpuOnline))
            .unwrap();
        assert_eq!((online.parent, online.name), (6, "online"));
    }
}
