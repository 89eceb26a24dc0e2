//! syscontainer-tools and syscontainer-hooks against booted systemd containers: devices,
//! NICs, routes and paths added live, taken back, recorded, and re-applied by the hook
//! at restart and at an in-container reboot. Every host object a test makes (loop
//! devices, bridges, veths, files) has a Drop guard declared before the `Host`, so it is
//! removed after the containers, whatever happens.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use syscontainer_tests::{bin, shifted_rootfs, wait_for, Hook, Host, LoopDevice};

/// `syscontainer-tools --root STORE ARGS...`.
fn tools_run(host: &Host, args: &[&str]) -> Output {
    Command::new(bin("syscontainer-tools"))
        .arg("--root")
        .arg(host.store())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn syscontainer-tools")
}

fn tools(host: &Host, args: &[&str]) -> String {
    let out = tools_run(host, args);
    assert!(
        out.status.success(),
        "syscontainer-tools {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run and require failure with a one-line error that contains `want`.
fn tools_fail(host: &Host, args: &[&str], want: &str) -> String {
    let out = tools_run(host, args);
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(
        !out.status.success(),
        "syscontainer-tools {args:?} should have failed; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains(want),
        "error for {args:?} lacks {want:?}: {err}"
    );
    assert_eq!(err.lines().count(), 1, "error is not one line: {err}");
    err
}

fn record(host: &Host, id: &str) -> serde_json::Value {
    let path = host.store().join(id).join("device_hook.json");
    match std::fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data).expect("record is JSON"),
        Err(_) => serde_json::json!({}),
    }
}

fn count(v: &serde_json::Value, key: &str) -> usize {
    v.get(key).and_then(|l| l.as_array()).map_or(0, |l| l.len())
}

fn sh(cmd: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("spawn sh")
}

fn sh_ok(cmd: &str) -> String {
    let out = sh(cmd);
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A short unique suffix for interface names (at most 15 characters in all).
fn tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network interface on the host, deleted on drop (with its peer, for a veth).
struct Link(String);

impl Link {
    fn bridge(name: &str, cidr: &str) -> Link {
        sh_ok(&format!(
            "ip link add {name} type bridge && ip addr add {cidr} dev {name} && ip link set {name} up"
        ));
        Link(name.into())
    }

    fn veth(name: &str, peer: &str) -> Link {
        sh_ok(&format!("ip link add {name} type veth peer name {peer}"));
        Link(name.into())
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let _ = sh(&format!("ip link del {} 2>/dev/null", self.0));
    }
}

fn link_exists(name: &str) -> bool {
    sh(&format!("ip link show {name}")).status.success()
}

/// A host veth pair with a guard on each end: a "physical" NIC that ends up stuck in a
/// container still has its peer on the host, and deleting that deletes the pair.
fn veth_pair(name: &str, peer: &str) -> (Link, Link) {
    let a = Link::veth(name, peer);
    (a, Link(peer.into()))
}

/// A host directory with one file in it.
fn host_dir(content: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sct-path-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.path().join("hello"), content).unwrap();
    d
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

fn blkio_file(host: &Host, id: &str, file: &str) -> PathBuf {
    host.cgroup_file(id, file)
        .unwrap_or_else(|| panic!("no {file} for {id}"))
}

#[test]
fn loop_device_is_added_formatted_throttled_and_removed() {
    let disk = LoopDevice::new(64 << 20);
    let disk2 = LoopDevice::new(8 << 20);
    let mut host = Host::new();
    let id = host.boot("disk1", &[]);
    let dev = disk.dev.clone();
    let out = tools(
        &host,
        &[
            "add-device",
            "--device-read-bps",
            &format!("{dev}:1mb"),
            "--device-write-iops",
            &format!("{dev}:300"),
            "disk1",
            &format!("{dev}:/dev/data/xvdb:rwm"),
        ],
    );
    assert_eq!(
        out,
        format!("Add device ({dev}) to container(disk1,/dev/data/xvdb) done.")
    );
    // Made inside (parent created), formatted and written from inside.
    let ls = host.exec("disk1", &["stat", "-c", "%F %t:%T", "/dev/data/xvdb"]);
    assert!(ls.starts_with("block special file 7:"), "{ls}");
    // Same mode and owner as the host node, whatever the tool's umask: a private host
    // node for the second disk with group/other write bits and a group.
    let nodes = tempfile::tempdir().unwrap();
    let host_node = nodes.path().join("disk2");
    let nums = sh_ok(&format!("stat -c '%t %T' {}", disk2.dev));
    let nums: Vec<u32> = nums
        .split_whitespace()
        .map(|h| u32::from_str_radix(h, 16).unwrap())
        .collect();
    sh_ok(&format!(
        "mknod -m 0666 {} b {} {} && chgrp 6 {}",
        host_node.display(),
        nums[0],
        nums[1],
        host_node.display()
    ));
    let spec = format!("{}:/dev/data/mode", host_node.display());
    tools(&host, &["add-device", "disk1", &spec]);
    let inside = host.exec("disk1", &["stat", "-c", "%a %u %g", "/dev/data/mode"]);
    assert_eq!(inside, "666 0 6");
    tools(&host, &["remove-device", "disk1", &spec]);
    host.exec("disk1", &["mkfs.ext4", "-q", "-F", "/dev/data/xvdb"]);
    host.exec(
        "disk1",
        &["sh", "-c", "echo written-inside | dd of=/dev/data/xvdb bs=512 seek=100000 conv=notrunc status=none"],
    );
    let blkid = sh_ok(&format!("blkid -o value -s TYPE {dev}"));
    assert_eq!(blkid, "ext4");
    let written = sh_ok(&format!(
        "dd if={dev} bs=512 skip=100000 count=1 status=none | head -c 14"
    ));
    assert_eq!(written, "written-inside");

    // Throttles are in the container's blkio cgroup.
    let (maj, min) = {
        let s = sh_ok(&format!("stat -L -c '%t %T' {dev}"));
        let mut it = s
            .split_whitespace()
            .map(|h| u32::from_str_radix(h, 16).unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let rbps =
        std::fs::read_to_string(blkio_file(&host, &id, "blkio.throttle.read_bps_device")).unwrap();
    assert!(rbps.contains(&format!("{maj}:{min} 1048576")), "{rbps}");
    let wiops = std::fs::read_to_string(blkio_file(&host, &id, "blkio.throttle.write_iops_device"))
        .unwrap();
    assert!(wiops.contains(&format!("{maj}:{min} 300")), "{wiops}");
    // update-device changes it, in the cgroup and the record.
    tools(
        &host,
        &[
            "update-device",
            "--device-read-bps",
            &format!("{dev}:2mb"),
            "disk1",
        ],
    );
    let rbps =
        std::fs::read_to_string(blkio_file(&host, &id, "blkio.throttle.read_bps_device")).unwrap();
    assert!(rbps.contains(&format!("{maj}:{min} 2097152")), "{rbps}");
    assert_eq!(record(&host, &id)["readBps"][0]["Rate"], 2097152);

    // A weight needs bfq on the device: refused with a hint, record unchanged; with bfq,
    // it lands in the cgroup. A kernel built without bfq has no weight file in any cgroup:
    // refused, naming the missing file, record unchanged.
    let before = record(&host, &id);
    let name = dev.trim_start_matches("/dev/");
    let schedulers = std::fs::read_to_string(format!("/sys/block/{name}/queue/scheduler"))
        .expect("the loop device's schedulers");
    let weight = [
        "update-device",
        "--blkio-weight-device",
        &format!("{dev}:300"),
        "disk1",
    ];
    if schedulers
        .split_whitespace()
        .any(|s| s.trim_matches(['[', ']']) == "bfq")
    {
        sh_ok(&format!("echo none > /sys/block/{name}/queue/scheduler"));
        tools_fail(&host, &weight, "needs the bfq I/O scheduler");
        assert_eq!(record(&host, &id), before);
        sh_ok(&format!("echo bfq > /sys/block/{name}/queue/scheduler"));
        tools(&host, &weight);
        let weights =
            std::fs::read_to_string(blkio_file(&host, &id, "blkio.bfq.weight_device")).unwrap();
        assert!(weights.contains(&format!("{maj}:{min} 300")), "{weights}");
        assert_eq!(record(&host, &id)["blkioWeight"][0]["Rate"], 300);
    } else {
        tools_fail(&host, &weight, "has no weight_device file");
        assert_eq!(record(&host, &id), before);
    }

    let listed: serde_json::Value =
        serde_json::from_str(&tools(&host, &["list-device", "disk1"])).unwrap();
    assert_eq!(listed[0]["Path"], "/dev/data/xvdb");
    assert_eq!(listed[0]["PathOnHost"], dev.as_str());

    // The same container path twice is refused, record unchanged.
    let before = record(&host, &id);
    tools_fail(
        &host,
        &["add-device", "disk1", &format!("{dev}:/dev/data/xvdb")],
        "already added",
    );
    assert_eq!(record(&host, &id), before);

    let out = tools(
        &host,
        &["remove-device", "disk1", &format!("{dev}:/dev/data/xvdb")],
    );
    assert!(out.starts_with("Remove device ("), "{out}");
    let gone = host.run(["exec", "disk1", "test", "-e", "/dev/data/xvdb"]);
    assert!(
        !gone.status.success(),
        "node still there after remove-device"
    );
    let rbps =
        std::fs::read_to_string(blkio_file(&host, &id, "blkio.throttle.read_bps_device")).unwrap();
    assert!(
        !rbps.contains(&format!("{maj}:{min} ")),
        "throttle left: {rbps}"
    );
    let rec = record(&host, &id);
    assert_eq!(count(&rec, "deviceToAdd"), 0);
    assert_eq!(count(&rec, "readBps"), 0);
    assert_eq!(count(&rec, "blkioWeight"), 0);
    let devices = std::fs::read_to_string(blkio_file(&host, &id, "devices.list")).unwrap();
    assert!(!devices.contains(&format!("b {maj}:{min} ")), "{devices}");

    // All-or-nothing: the second device clashes with a file inside; the first node is
    // removed again, its cgroup rule denied, the record unchanged.
    let before = record(&host, &id);
    tools_fail(
        &host,
        &[
            "add-device",
            "disk1",
            &format!("{dev}:/dev/first"),
            &format!("{}:/etc/hostname", disk2.dev),
        ],
        "/etc/hostname already exists",
    );
    assert!(!host
        .run(["exec", "disk1", "test", "-e", "/dev/first"])
        .status
        .success());
    let devices = std::fs::read_to_string(blkio_file(&host, &id, "devices.list")).unwrap();
    assert!(!devices.contains(&format!("b {maj}:{min} ")), "{devices}");
    assert_eq!(record(&host, &id), before);
}

#[test]
fn veth_routes_and_a_moved_nic_come_and_go() {
    let t = tag();
    let bridge = Link::bridge(&format!("stb{t}"), "10.231.0.1/24");
    let phys = Link::veth(&format!("stp{t}"), &format!("stq{t}"));
    let mut host = Host::new();
    let id = host.boot("net1", &[]);
    let vhost = format!("stv{t}");

    let out = tools(
        &host,
        &[
            "add-nic",
            "--type",
            "veth",
            "--name",
            &format!("{vhost}:eth1"),
            "--ip",
            "10.231.0.2/24,fd31::2/64",
            "--bridge",
            &bridge.0,
            "--mtu",
            "1400",
            "net1",
        ],
    );
    assert_eq!(
        out,
        format!("Add network interface ({vhost}) to container (net1,eth1) done")
    );
    let addr = host.exec("net1", &["ip", "-o", "addr", "show", "eth1"]);
    assert!(
        addr.contains("10.231.0.2/24") && addr.contains("fd31::2/64"),
        "{addr}"
    );
    assert!(host.exec("net1", &["cat", "/sys/class/net/eth1/mtu"]) == "1400");
    assert!(sh_ok(&format!("ip -o link show {vhost}")).contains(&format!("master {}", bridge.0)));
    host.exec("net1", &["ping", "-c", "1", "-W", "5", "10.231.0.1"]);

    // An IPv6 route through the on-link IPv6 address.
    tools(
        &host,
        &[
            "add-route",
            "net1",
            r#"[{"dest":"fd32::/64","gw":"fd31::1"}]"#,
        ],
    );
    let routes6 = host.exec("net1", &["ip", "-6", "route"]);
    assert!(
        routes6.contains("fd32::/64 via fd31::1 dev eth1"),
        "{routes6}"
    );
    tools(
        &host,
        &[
            "remove-route",
            "net1",
            r#"[{"dest":"fd32::/64","gw":"fd31::1"}]"#,
        ],
    );
    assert!(!host
        .exec("net1", &["ip", "-6", "route"])
        .contains("fd32::/64"));

    // update-nic: mtu and addresses change live and in the record.
    tools(
        &host,
        &[
            "update-nic",
            "--name",
            "eth1",
            "--mtu",
            "1300",
            "--ip",
            "10.231.0.12/24",
            "net1",
        ],
    );
    assert_eq!(
        host.exec("net1", &["cat", "/sys/class/net/eth1/mtu"]),
        "1300"
    );
    let addr = host.exec("net1", &["ip", "-o", "addr", "show", "eth1"]);
    assert!(
        addr.contains("10.231.0.12/24") && !addr.contains("10.231.0.2/"),
        "{addr}"
    );
    assert_eq!(
        record(&host, &id)["networkInterfaces"][0]["Ip"],
        "10.231.0.12/24"
    );
    host.exec("net1", &["ping", "-c", "1", "-W", "5", "10.231.0.1"]);

    // Routes: a gateway route and a device default route.
    tools(
        &host,
        &[
            "add-route",
            "net1",
            r#"[{"dest":"10.232.0.0/16","gw":"10.231.0.1"},{"dest":"","dev":"eth1"}]"#,
        ],
    );
    let routes = host.exec("net1", &["ip", "route"]);
    assert!(
        routes.contains("10.232.0.0/16 via 10.231.0.1 dev eth1"),
        "{routes}"
    );
    assert!(routes.contains("default dev eth1"), "{routes}");
    let listed = tools(
        &host,
        &["list-route", "--filter", r#"{"gw":"10.231.0.1"}"#, "net1"],
    );
    assert_eq!(
        listed,
        r#"[{"dest":"10.232.0.0/16","src":"","gw":"10.231.0.1","dev":""}]"#
    );
    tools(
        &host,
        &[
            "remove-route",
            "net1",
            r#"[{"dest":"10.232.0.0/16","gw":"10.231.0.1"}]"#,
        ],
    );
    assert!(!host
        .exec("net1", &["ip", "route"])
        .contains("10.232.0.0/16"));
    // All-or-nothing: the second route names a missing device; the first is taken back.
    let before = record(&host, &id);
    tools_fail(
        &host,
        &[
            "add-route",
            "net1",
            r#"[{"dest":"10.240.0.0/16","gw":"10.231.0.1"},{"dest":"10.241.0.0/16","dev":"nosuch9"}]"#,
        ],
        "nosuch9 does not exist in the container",
    );
    assert!(!host
        .exec("net1", &["ip", "route"])
        .contains("10.240.0.0/16"));
    assert_eq!(record(&host, &id), before);

    // A "physical" NIC moves in under a new name and back under its old one, with the
    // MTU it had on the host.
    sh_ok(&format!("ip link set {} mtu 1450", phys.0));
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:eth2", phys.0),
            "--ip",
            "10.233.0.2/24",
            "net1",
        ],
    );
    assert!(!link_exists(&phys.0), "{} still on the host", phys.0);
    assert!(host
        .exec("net1", &["ip", "-o", "addr", "show", "eth2"])
        .contains("10.233.0.2/24"));
    // Used by this container already: refused, naming the value.
    tools_fail(
        &host,
        &[
            "add-nic",
            "--name",
            "eth3",
            "--ip",
            "10.231.0.12/24",
            "net1",
        ],
        "ip 10.231.0.12 is already used",
    );
    tools(
        &host,
        &["remove-nic", "--type", "eth", "--name", "eth2", "net1"],
    );
    assert!(link_exists(&phys.0), "{} did not come back", phys.0);
    assert_eq!(
        sh_ok(&format!("cat /sys/class/net/{}/mtu", phys.0)),
        "1450",
        "host mtu not restored"
    );
    assert!(!host.exec("net1", &["ip", "-o", "link"]).contains("eth2"));

    tools(&host, &["remove-nic", "--name", "eth1", "net1"]);
    assert!(!link_exists(&vhost), "{vhost} left on the host");
    let rec = record(&host, &id);
    assert_eq!(count(&rec, "networkInterfaces"), 0);
    assert!(
        !Path::new("/run/syscontainer-tools").join(&id).exists(),
        "netns pin left"
    );
}

#[test]
fn a_moved_nic_goes_in_and_back_when_its_name_is_taken_on_the_other_side() {
    let t = tag();
    let (phys, _phys_peer) = veth_pair(&format!("stp{t}"), &format!("stq{t}"));
    let (phys2, _phys2_peer) = veth_pair(&format!("sto{t}"), &format!("str{t}"));
    // The name the NICs get inside is also taken by an unrelated link on the host.
    let inside = format!("stc{t}");
    let (clash, _clash_peer) = veth_pair(&inside, &format!("std{t}"));
    let hook = Hook::install();
    let mut host = Host::new();
    let id = host.boot("clash1", &["--hook-spec", &hook.spec()]);
    // And the container has a link of its own named like the host NIC moved in.
    host.exec(
        "clash1",
        &[
            "ip", "link", "add", &phys.0, "type", "veth", "peer", "name", "eth9",
        ],
    );

    // In: renamed on the way, the container's own link of that name is untouched.
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:{inside}", phys.0),
            "--ip",
            "10.242.0.2/24",
            "clash1",
        ],
    );
    assert!(!link_exists(&phys.0), "{} still on the host", phys.0);
    let addr = host.exec("clash1", &["ip", "-o", "addr", "show", &inside]);
    assert!(addr.contains("10.242.0.2/24"), "{addr}");
    host.exec("clash1", &["ip", "link", "show", &phys.0]);
    host.exec("clash1", &["ip", "link", "show", "eth9"]);

    // Back with remove-nic, to a host that has a link named as the NIC is inside.
    tools(
        &host,
        &["remove-nic", "--type", "eth", "--name", &inside, "clash1"],
    );
    assert!(link_exists(&phys.0), "{} did not come back", phys.0);
    assert!(link_exists(&clash.0), "the unrelated {} is gone", clash.0);
    let links = host.exec("clash1", &["ip", "-o", "link"]);
    assert!(!links.contains(&format!(": {inside}:")), "{links}");
    assert_eq!(count(&record(&host, &id), "networkInterfaces"), 0);

    // Back at stop, by the poststop hook, past the same clash.
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:{inside}", phys2.0),
            "clash1",
        ],
    );
    assert!(!link_exists(&phys2.0));
    host.ok(["stop", "clash1"]);
    let back = (0..200).any(|_| {
        let there = link_exists(&phys2.0);
        if !there {
            std::thread::sleep(Duration::from_millis(50));
        }
        there
    });
    assert!(
        back,
        "{} not back after stop; hook log:\n{}",
        phys2.0,
        hook.log()
    );
    assert!(link_exists(&clash.0), "the unrelated {} is gone", clash.0);
    assert!(
        !Path::new("/run/syscontainer-tools").join(&id).exists(),
        "netns pin left"
    );
    assert!(!hook.log().contains(" back: "), "hook log:\n{}", hook.log());
}

/// Links on the host whose name starts with `prefix`.
fn host_links_starting(prefix: &str) -> Vec<String> {
    sh_ok("ip -o link show")
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

#[test]
fn a_nic_that_fails_after_it_was_made_or_moved_is_taken_back_whole() {
    let t = tag();
    let bridge = Link::bridge(&format!("stb{t}"), "10.243.0.1/24");
    let (phys, _phys_peer) = veth_pair(&format!("stp{t}"), &format!("stq{t}"));
    sh_ok(&format!("ip link set {} mtu 1450", phys.0));
    let phys_mac = sh_ok(&format!("cat /sys/class/net/{}/address", phys.0));
    let hook = Hook::install();
    let mut host = Host::new();
    let id = host.boot("late1", &["--hook-spec", &hook.spec()]);
    // IPv6 off in the container's namespace: the kernel refuses an IPv6 address on a
    // link made or moved there, after the IPv4 one was added.
    let pid = host.inspect("late1", "{{.State.Pid}}");
    sh_ok(&format!(
        "nsenter -t {pid} -n sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'"
    ));
    let before = record(&host, &id);
    let ctr_links = || {
        let out = host.exec("late1", &["ip", "-o", "link"]);
        let names: Vec<String> = out
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect();
        names
    };
    let links_before = ctr_links();

    // veth, named and auto-named host end: the pair is deleted again.
    let vhost = format!("stv{t}");
    for name in [format!("{vhost}:eth1"), "eth1".to_string()] {
        tools_fail(
            &host,
            &[
                "add-nic",
                "--name",
                &name,
                "--ip",
                "10.243.0.2/24,fd43::2/64",
                "--bridge",
                &bridge.0,
                "late1",
            ],
            "add ip fd43::2/64 to eth1",
        );
        assert!(!link_exists(&vhost), "{vhost} left on the host");
        let auto = host_links_starting(&format!("sc{}", &id[..6]));
        assert!(auto.is_empty(), "veth host ends left: {auto:?}");
        let ports = sh_ok(&format!("ip -o link show master {}", bridge.0));
        assert!(ports.is_empty(), "ports left on the bridge: {ports}");
        assert_eq!(ctr_links(), links_before, "left in the container");
        assert_eq!(record(&host, &id), before);
    }

    // eth: the NIC is back on the host under its own name, with its MTU and MAC.
    tools_fail(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:eth2", phys.0),
            "--ip",
            "10.244.0.2/24,fd44::2/64",
            "--mac",
            "02:00:0a:f4:00:02",
            "late1",
        ],
        "add ip fd44::2/64 to eth2",
    );
    assert!(link_exists(&phys.0), "{} is not back on the host", phys.0);
    assert_eq!(
        sh_ok(&format!("cat /sys/class/net/{}/mtu", phys.0)),
        "1450",
        "host mtu not restored"
    );
    assert_eq!(
        sh_ok(&format!("cat /sys/class/net/{}/address", phys.0)),
        phys_mac,
        "host mac not restored"
    );
    assert_eq!(ctr_links(), links_before, "left in the container");
    assert_eq!(record(&host, &id), before);
    assert!(
        !Path::new("/run/syscontainer-tools").join(&id).exists(),
        "netns pin left"
    );

    // Nothing in the way of doing it right afterwards.
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:eth2", phys.0),
            "--ip",
            "10.244.0.2/24",
            "late1",
        ],
    );
    assert!(host
        .exec("late1", &["ip", "-o", "addr", "show", "eth2"])
        .contains("10.244.0.2/24"));
}

#[test]
fn update_config_only_cannot_drop_a_host_nic_that_is_inside_a_running_container() {
    let t = tag();
    let (phys, _phys_peer) = veth_pair(&format!("stp{t}"), &format!("stq{t}"));
    let hook = Hook::install();
    let mut host = Host::new();
    let id = host.boot("cfg1", &["--hook-spec", &hook.spec()]);
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:eth2", phys.0),
            "cfg1",
        ],
    );
    let before = record(&host, &id);
    let pin = Path::new("/run/syscontainer-tools").join(&id).join("netns");
    tools_fail(
        &host,
        &[
            "remove-nic",
            "--update-config-only",
            "--name",
            "eth2",
            "cfg1",
        ],
        "without --update-config-only",
    );
    assert_eq!(record(&host, &id), before);
    assert!(pin.exists(), "netns pin released");
    host.exec("cfg1", &["ip", "link", "show", "eth2"]);
    // So it still goes back when the container stops.
    host.ok(["stop", "cfg1"]);
    wait_for("the nic back on the host", Duration::from_secs(10), || {
        link_exists(&phys.0)
    });
    // Stopped, there is nothing inside: recording the removal is fine.
    tools(
        &host,
        &[
            "remove-nic",
            "--update-config-only",
            "--name",
            "eth2",
            "cfg1",
        ],
    );
    assert_eq!(count(&record(&host, &id), "networkInterfaces"), 0);
}

#[test]
fn a_nic_name_mac_or_ip_of_another_container_is_refused() {
    let t = tag();
    let bridge = Link::bridge(&format!("stb{t}"), "10.245.0.1/24");
    let mut host = Host::new();
    let id1 = host.boot("own1", &[]);
    let id2 = host.boot("own2", &[]);
    let (va, vb) = (format!("stv{t}a"), format!("stv{t}b"));
    tools(
        &host,
        &[
            "add-nic",
            "--name",
            &format!("{va}:eth1"),
            "--ip",
            "10.245.0.2/24",
            "--mac",
            "02:00:0a:f5:00:02",
            "--bridge",
            &bridge.0,
            "own1",
        ],
    );
    let before = record(&host, &id2);
    let nic = |name: &str, ip: &str, mac: &str| -> Vec<String> {
        let mut a: Vec<String> = ["add-nic", "--name", name, "--ip", ip, "--bridge", &bridge.0]
            .map(String::from)
            .to_vec();
        if !mac.is_empty() {
            a.extend(["--mac".to_string(), mac.to_string()]);
        }
        a.push("own2".into());
        a
    };
    let cases = [
        (
            nic(&format!("{vb}:eth1"), "10.245.0.2/24", ""),
            "ip 10.245.0.2 is already used by own1",
        ),
        (
            nic(&format!("{vb}:eth1"), "10.245.0.3/24", "02:00:0a:f5:00:02"),
            "mac 02:00:0a:f5:00:02 is already used by own1",
        ),
        (
            nic(&format!("{va}:eth1"), "10.245.0.3/24", ""),
            &format!("host network interface {va} is already used by own1"),
        ),
    ];
    for (args, want) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tools_fail(&host, &args, want);
        assert_eq!(record(&host, &id2), before);
        assert!(!link_exists(&vb), "{vb} left on the host");
        assert!(!host
            .run(["exec", "own2", "ip", "link", "show", "eth1"])
            .status
            .success());
    }
    // update-nic checks the other containers too.
    tools(
        &host,
        &[
            "add-nic",
            "--name",
            &format!("{vb}:eth1"),
            "--ip",
            "10.245.0.3/24",
            "--bridge",
            &bridge.0,
            "own2",
        ],
    );
    let before = record(&host, &id2);
    tools_fail(
        &host,
        &[
            "update-nic",
            "--name",
            "eth1",
            "--ip",
            "10.245.0.2/24",
            "own2",
        ],
        "ip 10.245.0.2 is already used by own1",
    );
    tools_fail(
        &host,
        &[
            "update-nic",
            "--name",
            "eth1",
            "--mac",
            "02:00:0a:f5:00:02",
            "own2",
        ],
        "mac 02:00:0a:f5:00:02 is already used by own1",
    );
    assert_eq!(record(&host, &id2), before);

    // The check holds the other containers' locks: while own1's is held, add-nic on
    // own2 waits (so it cannot race an add-nic on own1 for the same address).
    let lock = std::fs::File::open(host.store().join(&id1).join("lock")).unwrap();
    // SAFETY: flock on a file we opened and keep open.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    assert_eq!(rc, 0);
    let vc = format!("stw{t}");
    let mut waiter = Child(
        Command::new(bin("syscontainer-tools"))
            .arg("--root")
            .arg(host.store())
            .args([
                "add-nic",
                "--name",
                &format!("{vc}:eth2"),
                "--ip",
                "10.245.0.4/24",
            ])
            .args(["--bridge", &bridge.0, "own2"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        waiter.0.try_wait().unwrap().is_none(),
        "add-nic on own2 did not wait for own1's lock"
    );
    drop(lock);
    let status = waiter.0.wait().unwrap();
    assert!(
        status.success(),
        "add-nic after the lock was released failed"
    );
    assert!(host
        .exec("own2", &["ip", "-o", "addr", "show", "eth2"])
        .contains("10.245.0.4/24"));
}

/// A child process killed and reaped on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn host_paths_rw_and_ro_then_gone_and_symlinks_refused() {
    let data = host_dir("from-host");
    let mut host = Host::new();
    let rootfs = host.rootfs();
    let id = host.start_system("paths1", &rootfs, &[]);
    host.wait_booted("paths1");
    let d = path_str(data.path());

    let out = tools(
        &host,
        &[
            "add-path",
            "paths1",
            &format!("{d}:/srv/rw"),
            &format!("{d}:/mnt/deep/ro:ro"),
        ],
    );
    assert_eq!(
        out,
        format!("Add path ({d}) to container(paths1,/srv/rw) done.\nAdd path ({d}) to container(paths1,/mnt/deep/ro) done.")
    );
    assert_eq!(host.exec("paths1", &["cat", "/srv/rw/hello"]), "from-host");
    assert_eq!(
        host.exec("paths1", &["cat", "/mnt/deep/ro/hello"]),
        "from-host"
    );
    host.exec("paths1", &["sh", "-c", "echo inside > /srv/rw/new"]);
    assert_eq!(
        std::fs::read_to_string(data.path().join("new"))
            .unwrap()
            .trim(),
        "inside"
    );
    let ro = host.run(["exec", "paths1", "touch", "/mnt/deep/ro/nope"]);
    assert!(!ro.status.success(), "read-only path was writable");
    assert!(!data.path().join("nope").exists());

    tools(
        &host,
        &["remove-path", "paths1", &format!("{d}:/mnt/deep/ro")],
    );
    let gone = host.run(["exec", "paths1", "test", "-e", "/mnt/deep/ro/hello"]);
    assert!(
        !gone.status.success(),
        "path still visible after remove-path"
    );
    assert_eq!(host.exec("paths1", &["cat", "/srv/rw/hello"]), "from-host");
    let rec = record(&host, &id);
    assert_eq!(count(&rec, "bindToAdd"), 1);
    assert_eq!(rec["bindToAdd"][0]["ContainerPath"], "/srv/rw");

    // --update-config-only: recorded, not mounted now.
    tools(
        &host,
        &[
            "add-path",
            "--update-config-only",
            "paths1",
            &format!("{d}:/srv/later"),
        ],
    );
    assert!(!host
        .run(["exec", "paths1", "test", "-e", "/srv/later/hello"])
        .status
        .success());
    assert_eq!(count(&record(&host, &id), "bindToAdd"), 2);
    tools(
        &host,
        &[
            "remove-path",
            "--update-config-only",
            "paths1",
            &format!("{d}:/srv/later"),
        ],
    );
    assert_eq!(count(&record(&host, &id), "bindToAdd"), 1);

    // A single host file, read-only, onto a path whose parents do not exist yet.
    let file = data.path().join("hello");
    tools(
        &host,
        &[
            "add-path",
            "paths1",
            &format!("{}:/opt/conf/one.conf:ro", file.display()),
        ],
    );
    assert_eq!(
        host.exec("paths1", &["cat", "/opt/conf/one.conf"]),
        "from-host"
    );
    assert!(!host
        .run(["exec", "paths1", "sh", "-c", "echo x > /opt/conf/one.conf"])
        .status
        .success());
    tools(
        &host,
        &[
            "remove-path",
            "paths1",
            &format!("{}:/opt/conf/one.conf", file.display()),
        ],
    );
    assert_eq!(host.exec("paths1", &["cat", "/opt/conf/one.conf"]), "");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "from-host");

    // A symlink planted in the container: /esc -> /etc (absolute) and a relative one
    // climbing out. On the host view they would lead to the host's /etc.
    host.exec("paths1", &["ln", "-s", "/etc", "/esc"]);
    host.exec("paths1", &["ln", "-s", "../../../../../../etc", "/esc2"]);
    let marker = format!("sct-escape-{}", std::process::id());
    for link in ["/esc", "/esc2"] {
        let target = format!("{link}/{marker}");
        tools_fail(
            &host,
            &["add-path", "paths1", &format!("{d}:{target}")],
            "symlink: refused",
        );
        tools_fail(
            &host,
            &[
                "add-device",
                "paths1",
                &format!("/dev/loop-control:{target}"),
            ],
            "symlink: refused",
        );
    }
    assert!(
        !Path::new("/etc").join(&marker).exists(),
        "created on the host"
    );
    assert!(
        !rootfs.join("etc").join(&marker).exists(),
        "created in the container's /etc"
    );
    assert_eq!(count(&record(&host, &id), "bindToAdd"), 1);
    assert_eq!(count(&record(&host, &id), "deviceToAdd"), 0);

    // All-or-nothing: the first path mounts, the second is refused; the first is
    // unmounted again and the record is unchanged.
    let before = record(&host, &id);
    tools_fail(
        &host,
        &[
            "add-path",
            "paths1",
            &format!("{d}:/srv/first"),
            &format!("{d}:/esc/second"),
        ],
        "refused",
    );
    let first = host.run(["exec", "paths1", "test", "-e", "/srv/first/hello"]);
    assert!(!first.status.success(), "first mount not undone");
    assert_eq!(record(&host, &id), before);

    // 16 concurrent add-path calls all land in the record and are all mounted.
    let store = host.store().to_path_buf();
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (store, d) = (store.clone(), d.clone());
            std::thread::spawn(move || {
                Command::new(bin("syscontainer-tools"))
                    .arg("--root")
                    .arg(&store)
                    .args(["add-path", "paths1", &format!("{d}:/opt/c{i}:ro")])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rec = record(&host, &id);
    assert_eq!(count(&rec, "bindToAdd"), 17, "{rec}");
    for i in 0..16 {
        assert_eq!(
            host.exec("paths1", &["cat", &format!("/opt/c{i}/hello")]),
            "from-host"
        );
    }
}

#[test]
fn everything_recorded_is_back_after_restart_and_reboot() {
    let t = tag();
    let bridge = Link::bridge(&format!("stb{t}"), "10.234.0.1/24");
    let phys = Link::veth(&format!("stp{t}"), &format!("stq{t}"));
    let disk = LoopDevice::new(16 << 20);
    let data = host_dir("persist");
    sh_ok(&format!("ip link set {} mtu 1480", phys.0));
    let hook = Hook::install();
    let mut host = Host::new();
    let id = host.boot(
        "keep1",
        &["--restart", "on-reboot", "--hook-spec", &hook.spec()],
    );
    let d = path_str(data.path());
    let vhost = format!("stv{t}");

    tools(&host, &["add-path", "keep1", &format!("{d}:/mnt/data:ro")]);
    tools(
        &host,
        &[
            "add-device",
            "--device-write-bps",
            &format!("{}:4mb", disk.dev),
            "keep1",
            &format!("{}:/dev/xvdc", disk.dev),
        ],
    );
    tools(
        &host,
        &[
            "add-nic",
            "--name",
            &format!("{vhost}:eth1"),
            "--ip",
            "10.234.0.2/24",
            "--bridge",
            &bridge.0,
            "keep1",
        ],
    );
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:eth2", phys.0),
            "--ip",
            "10.235.0.2/24",
            "keep1",
        ],
    );
    tools(
        &host,
        &[
            "add-route",
            "keep1",
            r#"[{"dest":"10.236.0.0/16","gw":"10.234.0.1"}]"#,
        ],
    );
    let mac = host.exec("keep1", &["cat", "/sys/class/net/eth1/address"]);

    let check = |when: &str| {
        assert_eq!(
            host.exec("keep1", &["cat", "/mnt/data/hello"]),
            "persist",
            "{when}"
        );
        let st = host.exec("keep1", &["stat", "-c", "%F", "/dev/xvdc"]);
        assert_eq!(st, "block special file", "{when}");
        host.exec(
            "keep1",
            &[
                "dd",
                "if=/dev/xvdc",
                "of=/dev/null",
                "bs=4k",
                "count=1",
                "status=none",
            ],
        );
        let addrs = host.exec("keep1", &["ip", "-o", "addr"]);
        assert!(
            addrs.contains("10.234.0.2/24") && addrs.contains("10.235.0.2/24"),
            "{when}: {addrs}"
        );
        assert_eq!(
            host.exec("keep1", &["cat", "/sys/class/net/eth1/address"]),
            mac,
            "{when}"
        );
        let routes = host.exec("keep1", &["ip", "route"]);
        assert!(
            routes.contains("10.236.0.0/16 via 10.234.0.1"),
            "{when}: {routes}"
        );
        host.exec("keep1", &["ping", "-c", "1", "-W", "5", "10.234.0.1"]);
        let wbps =
            std::fs::read_to_string(blkio_file(&host, &id, "blkio.throttle.write_bps_device"))
                .unwrap();
        assert!(wbps.contains(" 4194304"), "{when}: {wbps}");
        assert!(!link_exists(&phys.0), "{when}: physical nic on the host");
    };
    check("live");

    host.ok(["restart", "keep1"]);
    host.wait_booted("keep1");
    check("after restart");

    let pid = host.inspect("keep1", "{{.State.Pid}}");
    host.run(["exec", "keep1", "systemctl", "reboot"]);
    wait_for("a new PID 1 after reboot", Duration::from_secs(60), || {
        let s = host.state("keep1");
        s["Status"] == "running" && s["Pid"].as_i64() != pid.parse::<i64>().ok()
    });
    host.wait_booted("keep1");
    check("after reboot");

    // Stopped: the physical NIC is back under its old name, the veth host end is gone.
    host.ok(["stop", "keep1"]);
    wait_for("the nic back on the host", Duration::from_secs(10), || {
        link_exists(&phys.0)
    });
    assert_eq!(sh_ok(&format!("cat /sys/class/net/{}/mtu", phys.0)), "1480");
    assert!(!link_exists(&vhost), "veth host end outlived the container");
    assert!(
        !Path::new("/run/syscontainer-tools").join(&id).exists(),
        "netns pin left"
    );
    assert!(hook.log().contains("Poststop"), "{}", hook.log());

    // A stopped container: records only, applied at the next start.
    tools(&host, &["add-path", "keep1", &format!("{d}:/mnt/later")]);
    tools(
        &host,
        &[
            "add-route",
            "keep1",
            r#"[{"dest":"10.237.0.0/16","gw":"10.234.0.1"}]"#,
        ],
    );
    assert_eq!(count(&record(&host, &id), "networkRoute"), 2);
    host.ok(["start", "keep1"]);
    host.wait_booted("keep1");
    assert_eq!(host.exec("keep1", &["cat", "/mnt/later/hello"]), "persist");
    assert!(host
        .exec("keep1", &["ip", "route"])
        .contains("10.237.0.0/16 via 10.234.0.1"));
    check("after start");
}

#[test]
fn bad_arguments_get_clear_one_line_errors() {
    let mut host = Host::new();
    let id = host.boot("bad1", &[]);
    let before = record(&host, &id);
    let cases: &[(&[&str], &str)] = &[
        (
            &["add-path", "bad1", "/nonexistent-sct:/mnt/x"],
            "host path /nonexistent-sct",
        ),
        (
            &["add-path", "bad1", "relative:/mnt/x"],
            "\"relative\" must be absolute",
        ),
        (&["add-path", "bad1", "/tmp:/mnt/../x"], "\"..\""),
        (
            &["add-path", "bad1", "/tmp:/mnt/x:rx"],
            "unknown mount option \"rx\"",
        ),
        (&["add-path", "bad1", "/tmp:/"], "the container's root"),
        (
            &["add-device", "bad1", "/etc/passwd"],
            "device /etc/passwd is not a block",
        ),
        (
            &["add-device", "bad1", "/dev/null:/dev/x:rwx"],
            "permissions \"rwx\"",
        ),
        (
            &[
                "add-device",
                "--device-read-bps",
                "/dev/null:1zb",
                "bad1",
                "/dev/null:/dev/y",
            ],
            "unknown unit \"zb\"",
        ),
        (
            &[
                "add-device",
                "--blkio-weight-device",
                "/dev/null:5",
                "bad1",
                "/dev/null:/dev/y",
            ],
            "weight 5",
        ),
        (
            &["remove-device", "bad1", "/dev/null:/dev/zzz"],
            "is not added",
        ),
        (&["update-device", "bad1"], "give at least one"),
        (
            &["add-nic", "--type", "wifi", "--name", "eth1", "bad1"],
            "nic type \"wifi\"",
        ),
        (
            &["add-nic", "--name", "a-very-long-interface", "bad1"],
            "\"a-very-long-interface\"",
        ),
        (
            &["add-nic", "--name", "eth1", "--ip", "10.0.0.300/24", "bad1"],
            "invalid ip \"10.0.0.300/24\"",
        ),
        (
            &[
                "add-nic",
                "--name",
                "eth1",
                "--mac",
                "01:00:00:00:00:01",
                "bad1",
            ],
            "multicast",
        ),
        (
            &["add-nic", "--name", "eth1", "--mtu", "20", "bad1"],
            "mtu 20",
        ),
        // Refused by the kernel, after the veth pair was made: it is deleted again.
        (
            &[
                "add-nic",
                "--name",
                "eth1",
                "--ip",
                "10.0.0.2/24,::1/128",
                "bad1",
            ],
            "::1/128",
        ),
        (
            &["add-nic", "--name", "eth1", "--bridge", "nosuchbr0", "bad1"],
            "nosuchbr0 does not exist",
        ),
        (
            &[
                "add-nic",
                "--type",
                "eth",
                "--name",
                "nosuchnic0:eth1",
                "bad1",
            ],
            "nosuchnic0 does not exist",
        ),
        (
            &["remove-nic", "--name", "eth9", "bad1"],
            "eth9 is not added",
        ),
        (
            &["add-route", "bad1", "not json"],
            "invalid routes \"not json\"",
        ),
        (
            &["add-route", "bad1", r#"[{"dest":"10.0.0.0/8"}]"#],
            "give gw or dev",
        ),
        (
            &[
                "add-route",
                "bad1",
                r#"[{"dest":"10.0.0.0/8","dev":"eth9"}]"#,
            ],
            "eth9 does not exist",
        ),
        (
            &["list-nic", "--filter", "[1]", "bad1"],
            "invalid filter \"[1]\"",
        ),
        (&["list-path", "nosuchcontainer"], "nosuchcontainer"),
        (
            &["--log-level", "loud", "list-path", "bad1"],
            "invalid value 'loud' for '--log-level",
        ),
    ];
    for (args, want) in cases {
        tools_fail(&host, args, want);
    }
    assert_eq!(
        record(&host, &id),
        before,
        "a failed command changed the record"
    );
    // The host end of a veth is named sc<6 id digits><random>: none may be left, nor
    // the container end.
    let left = host_links_starting(&format!("sc{}", &id[..6]));
    assert!(
        left.is_empty(),
        "a half-made nic was left on the host: {left:?}"
    );
    assert!(
        !host
            .run(["exec", "bad1", "ip", "link", "show", "eth1"])
            .status
            .success(),
        "a half-made nic was left in the container"
    );
}

#[test]
fn command_line_mistakes_get_one_line_and_exit_1_while_help_works() {
    let host = Host::new();
    let cases: &[(&[&str], &str)] = &[
        (&["add-nic", "--bogus", "x", "c1"], "'--bogus'"),
        (&["add-nic", "c1"], "--name"),
        (
            &["add-nic", "--name", "eth1", "--mtu", "abc", "c1"],
            "'abc'",
        ),
        (&["add-path"], "<CONTAINER>"),
        (&["no-such-command"], "'no-such-command'"),
        (&[], "no command given"),
    ];
    for (args, want) in cases {
        tools_fail(&host, args, want);
        assert_eq!(tools_run(&host, args).status.code(), Some(1), "{args:?}");
    }
    // Nothing at all (not even --root).
    let out = Command::new(bin("syscontainer-tools"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim(),
        "syscontainer-tools: no command given (see --help)"
    );
    for (args, want) in [
        (&["--help"][..], "add-nic"),
        (&["add-nic", "--help"][..], "--bridge"),
        (&["--version"][..], "syscontainer-tools"),
    ] {
        let out = tools_run(&host, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(want),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn kernel_modules_are_checked_by_the_prestart_hook() {
    let hook = Hook::install();
    let mut host = Host::new();
    // Built in (present under /sys/module) is fine; a missing one stops the start with
    // an error naming it (this kernel has no loadable-module support).
    assert!(Path::new("/sys/module/loop").exists());
    host.boot(
        "mods1",
        &["--hook-spec", &hook.spec(), "-e", "KERNEL_MODULES=loop"],
    );
    let rootfs = host.rootfs();
    let mut args = vec![
        "run".to_string(),
        "-tid".into(),
        "--name".into(),
        "mods2".into(),
    ];
    args.extend(["--cgroup-parent".into(), host.cgroup_parent.clone()]);
    args.extend(["--hook-spec".into(), hook.spec()]);
    args.extend(["-e".into(), "KERNEL_MODULES=sct_no_such_module".into()]);
    args.extend([
        "--system-container".into(),
        "--external-rootfs".into(),
        path_str(&rootfs),
        "none".into(),
        "init".into(),
    ]);
    let err = host.fails(&args);
    assert!(err.contains("sct_no_such_module"), "{err}");
}

#[test]
fn user_remapped_container_gets_paths_devices_and_nics() {
    let t = tag();
    let bridge = Link::bridge(&format!("stb{t}"), "10.238.0.1/24");
    let disk = LoopDevice::new(16 << 20);
    let disk2 = LoopDevice::new(8 << 20);
    let data = host_dir("remapped");
    let shifted = shifted_rootfs(300_000);
    let hook = Hook::install();
    let host = Host::new();
    let rootfs = shifted.path().join("rootfs");
    let id = host.start_system(
        "remap1",
        &rootfs,
        &[
            "--user-remap",
            "300000:300000:65535",
            "--hook-spec",
            &hook.spec(),
        ],
    );
    let state = host.wait_booted("remap1");
    assert!(state == "running" || state == "degraded", "{state}");
    let d = path_str(data.path());

    tools(&host, &["add-path", "remap1", &format!("{d}:/mnt/data:ro")]);
    assert_eq!(host.exec("remap1", &["cat", "/mnt/data/hello"]), "remapped");
    tools(
        &host,
        &["add-device", "remap1", &format!("{}:/dev/xvdr", disk.dev)],
    );
    // The node shows the host owner (root) inside, mapped through the user namespace.
    assert_eq!(host.exec("remap1", &["stat", "-c", "%u", "/dev/xvdr"]), "0");
    host.exec("remap1", &["mkfs.ext4", "-q", "-F", "/dev/xvdr"]);
    assert_eq!(
        sh_ok(&format!("blkid -o value -s TYPE {}", disk.dev)),
        "ext4"
    );
    tools(
        &host,
        &[
            "add-nic",
            "--name",
            &format!("stv{t}:eth1"),
            "--ip",
            "10.238.0.2/24",
            "--bridge",
            &bridge.0,
            "remap1",
        ],
    );
    host.exec("remap1", &["ping", "-c", "1", "-W", "5", "10.238.0.1"]);

    // The hook re-applies all of it in the user namespace too.
    host.ok(["restart", "remap1"]);
    host.wait_booted("remap1");
    assert_eq!(host.exec("remap1", &["cat", "/mnt/data/hello"]), "remapped");
    assert_eq!(host.exec("remap1", &["stat", "-c", "%u", "/dev/xvdr"]), "0");
    host.exec(
        "remap1",
        &[
            "dd",
            "if=/dev/xvdr",
            "of=/dev/null",
            "bs=4k",
            "count=1",
            "status=none",
        ],
    );
    host.exec("remap1", &["ping", "-c", "1", "-W", "5", "10.238.0.1"]);

    tools(
        &host,
        &[
            "remove-device",
            "remap1",
            &format!("{}:/dev/xvdr", disk.dev),
        ],
    );
    assert!(!host
        .run(["exec", "remap1", "test", "-e", "/dev/xvdr"])
        .status
        .success());

    // Staged host nodes: one per container path (even where `/` and `_` would clash),
    // removed with their device and, at stop, all of them.
    let stage = host.store().join(&id).join("devnodes");
    let staged = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&stage)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert!(staged().is_empty(), "{:?}", staged());
    let (flat, nested) = (
        format!("{}:/dev/x_y", disk.dev),
        format!("{}:/dev/x/y", disk2.dev),
    );
    tools(&host, &["add-device", "remap1", &flat, &nested]);
    assert_eq!(staged().len(), 2, "{:?}", staged());
    tools(&host, &["remove-device", "remap1", &flat]);
    assert_eq!(staged().len(), 1, "{:?}", staged());
    host.exec(
        "remap1",
        &[
            "dd",
            "if=/dev/x/y",
            "of=/dev/null",
            "bs=4k",
            "count=1",
            "status=none",
        ],
    );
    host.ok(["stop", "remap1"]);
    assert!(
        !stage.exists(),
        "staged nodes outlived the container: {:?}",
        staged()
    );
}

#[test]
fn a_physical_nic_held_by_a_crashed_run_is_taken_back_at_the_next_start() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let t = tag();
    let phys = Link::veth(&format!("stp{t}"), &format!("stq{t}"));
    let hook = Hook::install();
    let mut host = Host::new();
    let id = host.boot("crash1", &["--hook-spec", &hook.spec()]);
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "eth",
            "--name",
            &format!("{}:eth2", phys.0),
            "--ip",
            "10.239.0.2/24",
            "crash1",
        ],
    );
    assert!(Path::new("/run/syscontainer-tools")
        .join(&id)
        .join("netns")
        .exists());
    // Monitor and PID 1 vanish without a poststop: the NIC stays in the pinned namespace.
    let state = host.state("crash1");
    for key in ["MonitorPid", "Pid"] {
        let pid = state[key].as_i64().unwrap() as i32;
        kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
        wait_for("the kill", Duration::from_secs(10), || {
            !syscontainer_tests::pid_alive(pid)
        });
    }
    assert!(!link_exists(&phys.0));
    host.ok(["start", "crash1"]);
    host.wait_booted("crash1");
    let addr = host.exec_out("crash1", &["ip", "-o", "addr", "show", "eth2"]);
    assert!(
        addr.contains("10.239.0.2/24"),
        "{addr}\nhook log:\n{}",
        hook.log()
    );
    host.ok(["stop", "crash1"]);
    wait_for("the nic back on the host", Duration::from_secs(10), || {
        link_exists(&phys.0)
    });
    assert!(!Path::new("/run/syscontainer-tools").join(&id).exists());
}

/// Allow (or deny again) `b major:minor` in the container's v1 devices cgroups by hand, in
/// its whole subtree, so that only the cgroup2 device filter stands between the container
/// and the device.
fn set_v1_device(host: &Host, id: &str, major: u32, minor: u32, allow: bool) {
    let top = blkio_file(host, id, "devices.allow");
    let mut dirs = vec![top.parent().unwrap().to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for e in std::fs::read_dir(&dirs[i]).unwrap().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(e.path());
            }
        }
        i += 1;
    }
    // A child can only allow what its parent allows: parents first, and back for a deny.
    if !allow {
        dirs.reverse();
    }
    let file = if allow {
        "devices.allow"
    } else {
        "devices.deny"
    };
    for d in dirs {
        std::fs::write(d.join(file), format!("b {major}:{minor} rwm")).unwrap();
    }
}

/// mknod a node of `major:minor` inside and try to read it: `readable`, `denied` or
/// `no-mknod`.
fn read_own_node(host: &Host, name: &str, major: u32, minor: u32) -> String {
    let script = format!(
        "mknod /dev/sctest-node b {major} {minor} || {{ echo no-mknod; exit 0; }}; \
         if head -c 512 /dev/sctest-node >/dev/null 2>&1; then echo readable; else echo denied; fi; \
         rm -f /dev/sctest-node"
    );
    host.exec(name, &["sh", "-c", &script])
}

#[test]
fn the_unified_device_filter_follows_add_and_remove_device_and_stays_on() {
    let disk = LoopDevice::new(8 << 20);
    let mut host = Host::new();
    let id = host.boot("bpfdev", &[]);
    let unified = blkio_file(&host, &id, "cgroup.events")
        .parent()
        .unwrap()
        .to_path_buf();
    let first = syscontainer_tests::our_device_programs(&unified);
    assert_eq!(first.len(), 1, "sysc_devices on {}", unified.display());
    let (major, minor) = {
        let s = sh_ok(&format!("stat -L -c '%t %T' {}", disk.dev));
        let mut it = s
            .split_whitespace()
            .map(|h| u32::from_str_radix(h, 16).unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };

    // The v1 devices controller refuses the disk; with it opened by hand, the filter still does.
    assert_eq!(read_own_node(&host, "bpfdev", major, minor), "denied");
    set_v1_device(&host, &id, major, minor, true);
    assert_eq!(read_own_node(&host, "bpfdev", major, minor), "denied");
    set_v1_device(&host, &id, major, minor, false);

    tools(
        &host,
        &[
            "add-device",
            "bpfdev",
            &format!("{}:/dev/xvdc:rwm", disk.dev),
        ],
    );
    let second = syscontainer_tests::our_device_programs(&unified);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(second, first, "add-device did not replace the filter");
    assert_eq!(read_own_node(&host, "bpfdev", major, minor), "readable");
    host.exec(
        "bpfdev",
        &[
            "dd",
            "if=/dev/xvdc",
            "of=/dev/null",
            "bs=512",
            "count=1",
            "status=none",
        ],
    );

    tools(
        &host,
        &[
            "remove-device",
            "bpfdev",
            &format!("{}:/dev/xvdc", disk.dev),
        ],
    );
    let third = syscontainer_tests::our_device_programs(&unified);
    assert_eq!(third.len(), 1, "{third:?}");
    assert_eq!(read_own_node(&host, "bpfdev", major, minor), "denied");
    set_v1_device(&host, &id, major, minor, true);
    assert_eq!(read_own_node(&host, "bpfdev", major, minor), "denied");

    // The container keeps CAP_SYS_ADMIN, but bpf(2) is refused, so the filter stays.
    let out = host.exec(
        "bpfdev",
        &[
            "perl",
            "-e",
            syscontainer_tests::BPF_DETACH_SCRIPT,
            "/sys/fs/cgroup/unified",
        ],
    );
    assert_eq!(out, format!("query={}", libc::EPERM), "{out}");
    assert_eq!(syscontainer_tests::our_device_programs(&unified), third);
}

#[test]
fn without_the_seccomp_rule_a_container_could_detach_its_device_filter() {
    let mut host = Host::new();
    let id = host.boot("nofilter", &["--security-opt", "seccomp=unconfined"]);
    let unified = blkio_file(&host, &id, "cgroup.events")
        .parent()
        .unwrap()
        .to_path_buf();
    assert_eq!(syscontainer_tests::our_device_programs(&unified).len(), 1);
    let out = host.exec(
        "nofilter",
        &[
            "perl",
            "-e",
            syscontainer_tests::BPF_DETACH_SCRIPT,
            "/sys/fs/cgroup/unified",
        ],
    );
    assert_eq!(out, "query=ok count=1 detached=1", "{out}");
    assert!(syscontainer_tests::our_device_programs(&unified).is_empty());
}

#[test]
fn update_nic_bridge_moves_the_host_end_all_or_nothing() {
    let t = tag();
    let first = Link::bridge(&format!("stf{t}"), "10.236.0.1/24");
    let second = Link::bridge(&format!("sts{t}"), "10.237.0.1/24");
    let mut host = Host::new();
    let id = host.boot("rebridge", &[]);
    let vhost = format!("stw{t}");
    tools(
        &host,
        &[
            "add-nic",
            "--type",
            "veth",
            "--name",
            &format!("{vhost}:eth1"),
            "--ip",
            "10.236.0.2/24",
            "--bridge",
            &first.0,
            "rebridge",
        ],
    );
    let master = |name: &str| sh_ok(&format!("ip -o link show {name}"));
    assert!(master(&vhost).contains(&format!("master {}", first.0)));

    let out = tools(
        &host,
        &[
            "update-nic",
            "--name",
            "eth1",
            "--bridge",
            &second.0,
            "rebridge",
        ],
    );
    assert_eq!(
        out,
        format!("Update network interface ({vhost}) of container (rebridge,eth1) done")
    );
    assert!(
        master(&vhost).contains(&format!("master {}", second.0)),
        "{}",
        master(&vhost)
    );
    assert_eq!(
        record(&host, &id)["networkInterfaces"][0]["Bridge"],
        second.0.as_str()
    );

    // A bridge that does not exist: nothing changes, not even the MTU given with it.
    let before = record(&host, &id);
    let mtu = host.exec("rebridge", &["cat", "/sys/class/net/eth1/mtu"]);
    tools_fail(
        &host,
        &[
            "update-nic",
            "--name",
            "eth1",
            "--mtu",
            "1200",
            "--bridge",
            &format!("stn{t}"),
            "rebridge",
        ],
        &format!("stn{t} does not exist on the host"),
    );
    assert_eq!(
        host.exec("rebridge", &["cat", "/sys/class/net/eth1/mtu"]),
        mtu
    );
    assert!(master(&vhost).contains(&format!("master {}", second.0)));
    assert_eq!(record(&host, &id), before);
    tools_fail(
        &host,
        &["update-nic", "--name", "eth1", "--bridge", "", "rebridge"],
        "--bridge needs a name",
    );
}
