//! syscontainer-tools on a pure cgroup v2 host with systemd as PID 1 (the VM lane): a
//! device is reachable only while it is added (the cgroup v2 device filter is rebuilt by
//! `add-device`, `remove-device` and the prestart hook), a container cannot take the filter
//! off, and NICs on a bridge, routes and paths come and go in a container whose PID 1 is
//! a real systemd. Built only with the `vm` feature; each test first checks the host.

mod v2;

use std::path::Path;
use std::process::Command;

use syscontainer_tests::{our_device_programs, Hook, BPF_DETACH_SCRIPT};
use v2::{
    as_container_service, boot, container_cgroup, inside, inside_ok, sh_ok, tools, v2_host,
    wait_booted_inside,
};

/// A loop device over a sparse file, detached on drop.
struct Loop {
    dev: String,
    major: u32,
    minor: u32,
    _file: tempfile::NamedTempFile,
}

impl Loop {
    fn new(mb: u64) -> Loop {
        let file = tempfile::Builder::new()
            .prefix("sct-disk-")
            .tempfile_in("/var/tmp")
            .unwrap();
        file.as_file().set_len(mb << 20).unwrap();
        let dev = sh_ok(&format!("losetup -f --show {}", file.path().display()));
        let numbers = sh_ok(&format!("stat -L -c '%t %T' {dev}"));
        let mut it = numbers
            .split_whitespace()
            .map(|h| u32::from_str_radix(h, 16).unwrap());
        let (major, minor) = (it.next().unwrap(), it.next().unwrap());
        Loop {
            dev,
            major,
            minor,
            _file: file,
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// A host link (bridge, or a veth and its peer), deleted on drop.
struct Link(String);

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).status();
    }
}

/// From a service of the container: mknod a node of the disk and read it
/// (`readable`, `denied` or `no-mknod`), then read `path` if it is given.
fn reach_disk(host: &syscontainer_tests::Host, name: &str, disk: &Loop, path: &str) -> String {
    let (major, minor) = (disk.major, disk.minor);
    let script = format!(
        "if mknod /dev/sctest-node b {major} {minor}; then \
           if head -c 512 /dev/sctest-node >/dev/null 2>&1; then echo own=readable; else echo own=denied; fi; \
           rm -f /dev/sctest-node; \
         else echo own=no-mknod; fi; \
         if [ -n '{path}' ]; then \
           if head -c 512 '{path}' >/dev/null 2>&1; then echo added=readable; else echo added=denied; fi; \
         fi"
    );
    as_container_service(host, name, &script)
}

#[test]
fn add_and_remove_device_open_and_close_a_disk_and_a_restart_keeps_it() {
    let disk = Loop::new(8);
    let hook = Hook::install();
    let mut host = v2_host();
    let id = boot(&mut host, "v2disk", &["--hook-spec", &hook.spec()]);
    let cgroup = container_cgroup(&host, &id);
    let first = our_device_programs(&cgroup);
    assert_eq!(first.len(), 1, "sysc_devices on {}", cgroup.display());
    assert_eq!(reach_disk(&host, "v2disk", &disk, ""), "own=denied");
    // The filter answers the kernel's access(F_OK) on the console as the device list says,
    // so systemd starts a getty there.
    assert_eq!(
        inside(
            &host,
            "v2disk",
            &["systemctl", "is-active", "console-getty"]
        )
        .1,
        "active"
    );

    tools(
        &host,
        &[
            "add-device",
            "v2disk",
            &format!("{}:/dev/xvdc:rwm", disk.dev),
        ],
    );
    let second = our_device_programs(&cgroup);
    assert!(
        second.len() == 1 && second != first,
        "{first:?} then {second:?}"
    );
    assert_eq!(
        reach_disk(&host, "v2disk", &disk, "/dev/xvdc"),
        "own=readable\nadded=readable"
    );

    // The prestart hook rebuilds the filter with the recorded device before systemd runs.
    host.ok(["restart", "v2disk"]);
    assert_eq!(wait_booted_inside(&host, "v2disk"), "running");
    assert_eq!(our_device_programs(&cgroup).len(), 1);
    assert_eq!(
        reach_disk(&host, "v2disk", &disk, "/dev/xvdc"),
        "own=readable\nadded=readable"
    );

    tools(
        &host,
        &[
            "remove-device",
            "v2disk",
            &format!("{}:/dev/xvdc", disk.dev),
        ],
    );
    assert_eq!(our_device_programs(&cgroup).len(), 1);
    assert_eq!(reach_disk(&host, "v2disk", &disk, ""), "own=denied");

    // CAP_SYS_ADMIN in the host's user namespace, but bpf(2) is refused: the filter stays.
    // Written through /proc/PID/root: systemd would expand the `$` of an inline script.
    let pid = host.inspect("v2disk", "{{.State.Pid}}");
    std::fs::write(
        format!("/proc/{pid}/root/run/sctest-detach.pl"),
        BPF_DETACH_SCRIPT,
    )
    .unwrap();
    let out = as_container_service(
        &host,
        "v2disk",
        &format!("perl /run/sctest-detach.pl {}", v2::CGROUP2_ROOT),
    );
    assert_eq!(out, format!("query={}", libc::EPERM));
    assert_eq!(our_device_programs(&cgroup).len(), 1);
}

#[test]
fn add_nic_on_a_bridge_and_add_route_reach_the_host() {
    let tag = std::process::id() % 100_000;
    let bridge = Link(format!("scb{tag}"));
    sh_ok(&format!(
        "ip link add {0} type bridge && ip addr add 10.243.0.1/24 dev {0} && ip link set {0} up",
        bridge.0
    ));
    let vhost = Link(format!("scv{tag}"));
    let mut host = v2_host();
    boot(&mut host, "v2net", &[]);
    tools(
        &host,
        &[
            "add-nic",
            "--name",
            &format!("{}:eth1", vhost.0),
            "--ip",
            "10.243.0.2/24",
            "--bridge",
            &bridge.0,
            "v2net",
        ],
    );
    let addr = inside_ok(&host, "v2net", &["ip", "-o", "addr", "show", "eth1"]);
    assert!(addr.contains("10.243.0.2/24"), "{addr}");
    assert!(
        sh_ok(&format!("ip -o link show {}", vhost.0)).contains(&format!("master {}", bridge.0))
    );
    inside_ok(
        &host,
        "v2net",
        &["ping", "-c", "1", "-W", "5", "10.243.0.1"],
    );

    tools(
        &host,
        &[
            "add-route",
            "v2net",
            r#"[{"dest":"10.244.0.0/16","gw":"10.243.0.1"}]"#,
        ],
    );
    let routes = inside_ok(&host, "v2net", &["ip", "route"]);
    assert!(
        routes.contains("10.244.0.0/16 via 10.243.0.1 dev eth1"),
        "{routes}"
    );
    tools(
        &host,
        &[
            "remove-route",
            "v2net",
            r#"[{"dest":"10.244.0.0/16","gw":"10.243.0.1"}]"#,
        ],
    );
    assert!(!inside_ok(&host, "v2net", &["ip", "route"]).contains("10.244.0.0/16"));

    tools(&host, &["remove-nic", "--name", "eth1", "v2net"]);
    let (present, _) = inside(&host, "v2net", &["ip", "link", "show", "eth1"]);
    assert!(!present, "eth1 still in the container after remove-nic");
    let host_end = Command::new("ip")
        .args(["link", "show", &vhost.0])
        .output()
        .unwrap();
    assert!(
        !host_end.status.success(),
        "the veth host end outlived remove-nic"
    );
}

#[test]
fn add_path_binds_a_host_directory_read_only_and_remove_path_takes_it_back() {
    let data = tempfile::Builder::new()
        .prefix("sct-path-")
        .tempdir()
        .unwrap();
    std::fs::write(data.path().join("hello"), "from-host").unwrap();
    let d = data.path().display().to_string();
    let mut host = v2_host();
    boot(&mut host, "v2path", &[]);
    tools(&host, &["add-path", "v2path", &format!("{d}:/mnt/data:ro")]);
    assert_eq!(
        inside_ok(&host, "v2path", &["cat", "/mnt/data/hello"]),
        "from-host"
    );
    // Seen by the container's own services too, and read-only there.
    let out = as_container_service(
        &host,
        "v2path",
        "cat /mnt/data/hello; echo; touch /mnt/data/nope 2>/dev/null && echo writable || echo read-only",
    );
    assert_eq!(out, "from-host\nread-only");
    assert!(!Path::new(&d).join("nope").exists());

    tools(&host, &["remove-path", "v2path", &format!("{d}:/mnt/data")]);
    let (still, _) = inside(&host, "v2path", &["test", "-e", "/mnt/data/hello"]);
    assert!(!still, "path still visible after remove-path");
}
