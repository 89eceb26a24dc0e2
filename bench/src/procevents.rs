//! Exec events from the kernel's process connector, with their kernel timestamps.
//!
//! This is how the runtime's own share of boot is measured the same way for every peer:
//! the time from the start command to the `exec` of the container's PID 1, as the kernel
//! stamped it (CLOCK_MONOTONIC), with no change to the rootfs or the runtimes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const NETLINK_CONNECTOR: libc::c_int = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const NLMSG_HDRLEN: usize = 16;
const CN_MSG_LEN: usize = 20;

/// One exec: the thread group that exec'd and the kernel's CLOCK_MONOTONIC time in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecEvent {
    pub tgid: i32,
    pub monotonic_ns: u64,
}

/// Collects exec events in a background thread until dropped.
pub struct ExecListener {
    events: Arc<Mutex<Vec<ExecEvent>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ExecListener {
    pub fn start() -> io::Result<ExecListener> {
        let socket = subscribe()?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (events, stop) = (events.clone(), stop.clone());
            std::thread::spawn(move || receive(socket, &events, &stop))
        };
        Ok(ExecListener {
            events,
            stop,
            thread: Some(thread),
        })
    }

    /// The first exec of `tgid` at or after `since_ns`, waiting up to `timeout` for the event
    /// to arrive (the kernel delivers it asynchronously).
    pub fn first_exec(&self, tgid: i32, since_ns: u64, timeout: Duration) -> Option<ExecEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|e| e.tgid == tgid && e.monotonic_ns >= since_ns)
                .copied();
            if found.is_some() || std::time::Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Forget the events seen so far.
    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
    }
}

impl Drop for ExecListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// CLOCK_MONOTONIC now, in ns: the clock of the connector's timestamps.
pub fn monotonic_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always available");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

fn subscribe() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM, NETLINK_CONNECTOR) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };

    // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = CN_IDX_PROC;
    // SAFETY: addr is a valid sockaddr_nl of the size given.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }

    // Large receive buffer: a booting systemd execs hundreds of helpers in a burst.
    let size: libc::c_int = 8 << 20;
    // SAFETY: the option value is a c_int of the size given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as u32,
        );
    }
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: the option value is a timeval of the size given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &timeout as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
    }

    let message = listen_message(std::process::id());
    // SAFETY: message is a valid buffer of the length given.
    let sent = unsafe {
        libc::send(
            socket.as_raw_fd(),
            message.as_ptr() as *const libc::c_void,
            message.len(),
            0,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// nlmsghdr + cn_msg + PROC_CN_MCAST_LISTEN, in native byte order.
fn listen_message(pid: u32) -> Vec<u8> {
    let total = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes()); // nlmsg_type
    m.extend_from_slice(&0u16.to_ne_bytes()); // nlmsg_flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq
    m.extend_from_slice(&pid.to_ne_bytes()); // nlmsg_pid
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes()); // cb_id.idx
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes()); // cb_id.val
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // len
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

/// The exec event in one connector datagram, if it is one.
fn parse_exec(datagram: &[u8]) -> Option<ExecEvent> {
    let event = datagram.get(NLMSG_HDRLEN + CN_MSG_LEN..)?;
    let u32_at = |off: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(
            event.get(off..off + 4)?.try_into().ok()?,
        ))
    };
    if u32_at(0)? != PROC_EVENT_EXEC {
        return None;
    }
    // struct proc_event: what, cpu, timestamp_ns (u64, 8-aligned), then exec_proc_event
    // { process_pid, process_tgid }.
    let timestamp = u64::from_ne_bytes(event.get(8..16)?.try_into().ok()?);
    let tgid = u32_at(20)? as i32;
    Some(ExecEvent {
        tgid,
        monotonic_ns: timestamp,
    })
}

fn receive(socket: OwnedFd, events: &Mutex<Vec<ExecEvent>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: buf is a valid writable buffer of the length given.
        let n = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n <= 0 {
            continue; // timeout (to look at `stop`), EINTR or ENOBUFS after an overrun
        }
        if let Some(event) = parse_exec(&buf[..n as usize]) {
            events.lock().unwrap().push(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_message_layout() {
        let m = listen_message(42);
        assert_eq!(m.len(), 40);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 40);
        assert_eq!(u32::from_ne_bytes(m[12..16].try_into().unwrap()), 42);
        assert_eq!(u16::from_ne_bytes(m[32..34].try_into().unwrap()), 4);
        assert_eq!(u32::from_ne_bytes(m[36..40].try_into().unwrap()), 1);
    }

    #[test]
    fn parses_exec_events_only() {
        let mut datagram = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN];
        datagram.extend_from_slice(&PROC_EVENT_EXEC.to_ne_bytes());
        datagram.extend_from_slice(&1u32.to_ne_bytes()); // cpu
        datagram.extend_from_slice(&123_456u64.to_ne_bytes());
        datagram.extend_from_slice(&77u32.to_ne_bytes()); // pid
        datagram.extend_from_slice(&70u32.to_ne_bytes()); // tgid
        assert_eq!(
            parse_exec(&datagram),
            Some(ExecEvent {
                tgid: 70,
                monotonic_ns: 123_456
            })
        );
        datagram[NLMSG_HDRLEN + CN_MSG_LEN] = 1; // PROC_EVENT_FORK
        assert_eq!(parse_exec(&datagram), None);
        assert_eq!(parse_exec(&datagram[..10]), None);
    }
}
