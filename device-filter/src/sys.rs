//! The `bpf(2)` commands the filter needs, each with its own prefix of `union bpf_attr`.
//!
//! Each attr struct is the leading part of the kernel's union member for that command; the kernel
//! accepts a shorter attr and treats the missing tail as zero.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::insn::Insn;

const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_ATTACH: u32 = 8;
const BPF_PROG_DETACH: u32 = 9;
const BPF_PROG_GET_FD_BY_ID: u32 = 13;
const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
const BPF_PROG_QUERY: u32 = 16;

pub(crate) const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
pub(crate) const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
const BPF_F_REPLACE: u32 = 1 << 2;
/// `BPF_OBJ_NAME_LEN`, including the terminating NUL.
pub(crate) const OBJ_NAME_LEN: usize = 16;

#[repr(C)]
#[derive(Default)]
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
    prog_name: [u8; OBJ_NAME_LEN],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The leading fields of `struct bpf_prog_info`, up to the name.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; OBJ_NAME_LEN],
}

const _: () = {
    assert!(size_of::<ProgLoadAttr>() == 72);
    assert!(size_of::<QueryAttr>() == 32);
    assert!(size_of::<ProgInfo>() == 80);
};

fn bpf<T>(cmd: u32, attr: &mut T) -> io::Result<libc::c_long> {
    loop {
        // SAFETY: `attr` is a zero-initialised repr(C) prefix of `union bpf_attr` for `cmd`,
        // valid for `size_of::<T>()` bytes; the pointers inside it point at live buffers.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd as libc::c_long,
                attr as *mut T,
                size_of::<T>() as libc::c_uint,
            )
        };
        if ret >= 0 {
            return Ok(ret);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn owned_fd(ret: libc::c_long) -> OwnedFd {
    // SAFETY: the bpf commands that return an fd return a new one that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) }
}

/// `BPF_PROG_LOAD` of a cgroup device program. On failure, loads again with a log buffer (as
/// libbpf does) and returns the verifier's log with the error.
pub(crate) fn prog_load(
    insns: &[Insn],
    name: &str,
    license: &std::ffi::CStr,
) -> Result<OwnedFd, (io::Error, String)> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoadAttr::default()
    };
    let copied = name.len().min(OBJ_NAME_LEN - 1);
    attr.prog_name[..copied].copy_from_slice(&name.as_bytes()[..copied]);
    let error = match load_retrying_eagain(&mut attr) {
        Ok(ret) => return Ok(owned_fd(ret)),
        Err(error) => error,
    };
    let mut log = vec![0u8; 256 * 1024];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    match load_retrying_eagain(&mut attr) {
        Ok(ret) => Ok(owned_fd(ret)),
        Err(_) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err((error, String::from_utf8_lossy(&log[..end]).into_owned()))
        }
    }
}

fn load_retrying_eagain(attr: &mut ProgLoadAttr) -> io::Result<libc::c_long> {
    let mut attempts = 0;
    loop {
        match bpf(BPF_PROG_LOAD, attr) {
            Err(error) if error.raw_os_error() == Some(libc::EAGAIN) && attempts < 5 => {
                attempts += 1;
            }
            other => return other,
        }
    }
}

/// `BPF_PROG_ATTACH` with `BPF_F_ALLOW_MULTI`, replacing `replace` in place if given.
pub(crate) fn prog_attach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    replace: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    if let Some(old) = replace {
        attr.attach_flags |= BPF_F_REPLACE;
        attr.replace_bpf_fd = old.as_raw_fd() as u32;
    }
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

pub(crate) fn prog_detach(cgroup: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..AttachAttr::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}

/// Ids of the device programs attached directly to the cgroup (not inherited ones), in order.
pub(crate) fn prog_query(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 16];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..QueryAttr::default()
        };
        match bpf(BPF_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => {
                ids = vec![0u32; (attr.prog_cnt as usize).max(ids.len() * 2)];
            }
            Err(error) => return Err(error),
        }
    }
}

pub(crate) fn prog_get_fd_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..GetFdByIdAttr::default()
    };
    bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(owned_fd)
}

/// A program's id and name (`bpf_attr.prog_name` as given at load time).
pub(crate) fn prog_info(prog: BorrowedFd<'_>) -> io::Result<(u32, String)> {
    let mut info = ProgInfo::default();
    let mut attr = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    let end = info
        .name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(OBJ_NAME_LEN);
    Ok((
        info.id,
        String::from_utf8_lossy(&info.name[..end]).into_owned(),
    ))
}
