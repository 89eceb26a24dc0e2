//! FUSE glue: a fixed tree of view files. Content is rendered once per open and kept in the
//! file handle, so consecutive reads at any offset see one consistent snapshot.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::cache::ViewCache;
use crate::process::{Caller, Resolver};
use crate::render::{LimitSet, Renderer, ViewFile};
use crate::watch::LimitWatch;

/// Entry and attribute lifetime in the kernel's cache. The tree and its attributes never
/// change while mounted (size 0, the mount's times), so a reader idle for longer than a
/// short TTL would only pay LOOKUP and GETATTR round trips for nothing.
const TTL: Duration = Duration::from_secs(3600);

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
    handles: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    next_handle: AtomicU64,
    mounted_at: SystemTime,
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

    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Vec<u8>>>> {
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

impl Filesystem for LxcFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self
            .nodes
            .iter()
            .find(|n| n.parent == parent.0 && n.ino != ROOT_INO && OsStr::new(n.name) == name)
        {
            Some(node) => reply.entry(&TTL, &self.attr(node), fuser::Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.node(ino) {
            Some(node) if node.ino == ROOT_INO => reply.attr(&ROOT_ATTR_TTL, &self.attr(node)),
            Some(node) => reply.attr(&TTL, &self.attr(node)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let Some(NodeKind::File(view)) = self.node(ino).map(|n| n.kind) else {
            return reply.error(Errno::EISDIR);
        };
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY || flags.0 & libc::O_TRUNC != 0 {
            return reply.error(Errno::EACCES);
        }
        let content = match self.content_for(view, req.pid()) {
            Ok(content) => content,
            Err(e) => {
                tracing::warn!(pid = req.pid(), ?view, "cannot render view: {e}");
                return reply.error(errno_of(&e));
            }
        };
        let handle = self.next_handle.fetch_add(1, Ordering::Relaxed);
        self.handles().insert(handle, content);
        // FOPEN_NOFLUSH: nothing is buffered, so close(2) needs no FLUSH round trip.
        reply.opened(
            FileHandle(handle),
            FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_NOFLUSH,
        );
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let Some(content) = self.handles().get(&fh.0).cloned() else {
            return reply.error(Errno::EBADF);
        };
        reply.data(slice_at(&content, offset, size));
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
        self.handles().remove(&fh.0);
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
        let Some(dir) = self.node(ino).filter(|n| n.kind == NodeKind::Dir) else {
            return reply.error(Errno::ENOTDIR);
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
