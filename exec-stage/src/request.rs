//! The request `syscontainer exec` hands to its exec stage, in a file (a memfd) whose
//! descriptor the stage gets as its first argument (a number), read from where it stands
//! to its end. The descriptors a request names are inherited across the `execve`.
//!
//! Format, version 2: the bytes `SCXS`, the version as a little-endian `u32`, then the
//! fields of [`Request`] in declaration order, encoded as:
//! - `u32`/`u64`/`i32`: little-endian; `bool`: one byte, 0 or 1;
//! - bytes and strings: a `u32` length, then the bytes (strings are UTF-8);
//! - lists: a `u32` count, then the items; `Option`: one byte, 0 (none) or 1, then the value.
//!
//! The request ends the file; trailing bytes are an error.

use std::path::PathBuf;

const MAGIC: &[u8; 4] = b"SCXS";
pub const VERSION: u32 = 2;
/// Largest request read: environment and arguments are bounded by the kernel's limits on
/// `execve` anyway.
pub const MAX_BYTES: usize = 16 << 20;

/// One resource limit: `resource` is a `libc::RLIMIT_*` number; `name` is only for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rlimit {
    pub name: String,
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

/// The five capability sets as bit masks (see [`crate::identity::to_mask`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// A pty of the container's devpts: the stage relays the master, the command gets the
/// slave `/dev/pts/NUMBER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pty {
    pub master: i32,
    pub number: u32,
}

/// Everything the stage needs, prepared by the CLI on the host's side. Descriptors are
/// inherited ones, -1 for none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// A pidfd of the container's init.
    pub pidfd: i32,
    /// The `setns` flags of the namespaces to join (the PID namespace is added by the stage).
    pub namespaces: i32,
    /// An `O_PATH` descriptor of the cgroup2 directory the command is born in.
    pub cgroup_dir: i32,
    /// Cgroup files (v1 `tasks`) the command writes itself into, opened for writing.
    pub cgroup_files: Vec<i32>,
    pub pty: Option<Pty>,
    pub interactive: bool,
    pub detach: bool,
    /// `USER[:GROUP]` to look up in the container's /etc/passwd and /etc/group...
    pub user: Option<(String, Option<String>)>,
    /// ...or, without one, the spec's ids.
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub rlimits: Vec<Rlimit>,
    /// `None`: no capabilities at all.
    pub capabilities: Option<CapMasks>,
    pub no_new_privileges: bool,
    /// A seccomp program (`struct sock_filter` array); empty for none.
    pub seccomp_bpf: Vec<u8>,
    pub cwd: PathBuf,
    pub env: Vec<String>,
    pub args: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("exec request: not a syscontainer exec request")]
    Magic,
    #[error("exec request: version {0}, this stage reads version {VERSION}")]
    Version(u32),
    #[error("exec request: cut short")]
    Short,
    #[error("exec request: {0}")]
    Invalid(&'static str),
}

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn flag(&mut self, v: bool) {
        self.0.push(v as u8);
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
    }
    fn strings(&mut self, v: &[String]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|s| self.bytes(s.as_bytes()));
    }
    fn path(&mut self, p: &std::path::Path) {
        use std::os::unix::ffi::OsStrExt;
        self.bytes(p.as_os_str().as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], RequestError> {
        if self.0.len() < n {
            return Err(RequestError::Short);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, RequestError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> Result<u64, RequestError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    fn flag(&mut self) -> Result<bool, RequestError> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RequestError::Invalid("a flag is neither 0 nor 1")),
        }
    }
    fn count(&mut self) -> Result<usize, RequestError> {
        let n = self.u32()? as usize;
        // Every item takes at least one byte: a longer count is a broken request.
        if n > self.0.len() {
            return Err(RequestError::Short);
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, RequestError> {
        let n = self.count()?;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String, RequestError> {
        String::from_utf8(self.bytes()?).map_err(|_| RequestError::Invalid("a string is not UTF-8"))
    }
    fn strings(&mut self) -> Result<Vec<String>, RequestError> {
        (0..self.count()?).map(|_| self.string()).collect()
    }
    fn path(&mut self) -> Result<PathBuf, RequestError> {
        use std::os::unix::ffi::OsStringExt;
        Ok(PathBuf::from(std::ffi::OsString::from_vec(self.bytes()?)))
    }
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(4096));
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        w.u32(self.pidfd as u32);
        w.u32(self.namespaces as u32);
        w.u32(self.cgroup_dir as u32);
        w.u32(self.cgroup_files.len() as u32);
        self.cgroup_files.iter().for_each(|fd| w.u32(*fd as u32));
        w.flag(self.pty.is_some());
        let pty = self.pty.unwrap_or(Pty {
            master: -1,
            number: 0,
        });
        w.u32(pty.master as u32);
        w.u32(pty.number);
        w.flag(self.interactive);
        w.flag(self.detach);
        w.flag(self.user.is_some());
        if let Some((user, group)) = &self.user {
            w.bytes(user.as_bytes());
            w.flag(group.is_some());
            w.bytes(group.as_deref().unwrap_or("").as_bytes());
        }
        w.u32(self.uid);
        w.u32(self.gid);
        w.u32(self.additional_gids.len() as u32);
        self.additional_gids.iter().for_each(|g| w.u32(*g));
        w.u32(self.rlimits.len() as u32);
        for r in &self.rlimits {
            w.bytes(r.name.as_bytes());
            w.u32(r.resource);
            w.u64(r.soft);
            w.u64(r.hard);
        }
        w.flag(self.capabilities.is_some());
        let caps = self.capabilities.clone().unwrap_or_default();
        for mask in [
            caps.bounding,
            caps.effective,
            caps.permitted,
            caps.inheritable,
            caps.ambient,
        ] {
            w.u64(mask);
        }
        w.flag(self.no_new_privileges);
        w.bytes(&self.seccomp_bpf);
        w.path(&self.cwd);
        w.strings(&self.env);
        w.strings(&self.args);
        w.0
    }

    pub fn decode(data: &[u8]) -> Result<Request, RequestError> {
        let mut r = Reader(data);
        if r.take(4).map_err(|_| RequestError::Magic)? != MAGIC {
            return Err(RequestError::Magic);
        }
        match r.u32()? {
            VERSION => {}
            other => return Err(RequestError::Version(other)),
        }
        let pidfd = r.u32()? as i32;
        let namespaces = r.u32()? as i32;
        let cgroup_dir = r.u32()? as i32;
        let cgroup_files = (0..r.count()?)
            .map(|_| Ok(r.u32()? as i32))
            .collect::<Result<_, RequestError>>()?;
        let has_pty = r.flag()?;
        let pty = Pty {
            master: r.u32()? as i32,
            number: r.u32()?,
        };
        let interactive = r.flag()?;
        let detach = r.flag()?;
        let user = if r.flag()? {
            let user = r.string()?;
            let has_group = r.flag()?;
            let group = r.string()?;
            Some((user, has_group.then_some(group)))
        } else {
            None
        };
        let uid = r.u32()?;
        let gid = r.u32()?;
        let additional_gids = (0..r.count()?).map(|_| r.u32()).collect::<Result<_, _>>()?;
        let rlimits = (0..r.count()?)
            .map(|_| {
                Ok(Rlimit {
                    name: r.string()?,
                    resource: r.u32()?,
                    soft: r.u64()?,
                    hard: r.u64()?,
                })
            })
            .collect::<Result<_, RequestError>>()?;
        let has_caps = r.flag()?;
        let masks = CapMasks {
            bounding: r.u64()?,
            effective: r.u64()?,
            permitted: r.u64()?,
            inheritable: r.u64()?,
            ambient: r.u64()?,
        };
        let request = Request {
            pidfd,
            namespaces,
            cgroup_dir,
            cgroup_files,
            pty: has_pty.then_some(pty),
            interactive,
            detach,
            user,
            uid,
            gid,
            additional_gids,
            rlimits,
            capabilities: has_caps.then_some(masks),
            no_new_privileges: r.flag()?,
            seccomp_bpf: r.bytes()?,
            cwd: r.path()?,
            env: r.strings()?,
            args: r.strings()?,
        };
        if !r.0.is_empty() {
            return Err(RequestError::Invalid("trailing bytes"));
        }
        if request.args.is_empty() {
            return Err(RequestError::Invalid("no command"));
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Request {
        Request {
            pidfd: 5,
            namespaces: libc::CLONE_NEWNS | libc::CLONE_NEWUTS,
            cgroup_dir: 6,
            cgroup_files: vec![7, 8],
            pty: Some(Pty {
                master: 9,
                number: 3,
            }),
            interactive: true,
            detach: false,
            user: Some(("www-data".into(), Some("adm".into()))),
            uid: 0,
            gid: 0,
            additional_gids: vec![4, 5],
            rlimits: vec![Rlimit {
                name: "RlimitNofile".into(),
                resource: libc::RLIMIT_NOFILE,
                soft: 1024,
                hard: u64::MAX,
            }],
            capabilities: Some(CapMasks {
                bounding: 1 << 21,
                effective: 3,
                ..CapMasks::default()
            }),
            no_new_privileges: true,
            seccomp_bpf: vec![1, 2, 3, 4, 5, 6, 7, 8],
            cwd: "/root".into(),
            env: vec!["PATH=/bin".into(), "A=b=c".into()],
            args: vec!["sh".into(), "-c".into(), "".into()],
        }
    }

    #[test]
    fn a_request_survives_the_round_trip() {
        let r = sample();
        assert_eq!(Request::decode(&r.encode()), Ok(r));
        let plain = Request {
            args: vec!["true".into()],
            ..Request::default()
        };
        assert_eq!(Request::decode(&plain.encode()), Ok(plain));
        let user_only = Request {
            user: Some(("1000".into(), None)),
            ..sample()
        };
        assert_eq!(Request::decode(&user_only.encode()), Ok(user_only));
    }

    #[test]
    fn a_broken_request_is_refused() {
        let bytes = sample().encode();
        for cut in [0, 3, 8, 20, bytes.len() - 1] {
            assert!(Request::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut other = bytes.clone();
        other[4] = 1;
        assert_eq!(Request::decode(&other), Err(RequestError::Version(1)));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Request::decode(&trailing).is_err());
        assert_eq!(Request::decode(b"JUNKJUNK"), Err(RequestError::Magic));
        let no_command = Request::default();
        assert!(Request::decode(&no_command.encode()).is_err());
    }
}
