//! `--network NAME` through the real CNI plugins (Debian's containernetworking-plugins):
//! each test writes its own network (a test-unique bridge and subnet, host-local's data
//! in a temp dir) into its own configuration directory, so the host's /etc/cni is never
//! read, and removes the bridge it made.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use syscontainer_tests::{pid_alive, shifted_rootfs, wait_for, Host};

const PLUGINS: &str = "/usr/lib/cni";

/// A private CNI network: `sct<pid><n>` bridge, `10.<200+pid%50>.<n>.0/24`.
struct Network {
    name: String,
    bridge: String,
    prefix: String,
    conf_dir: tempfile::TempDir,
    data_dir: tempfile::TempDir,
}

static NEXT: AtomicU32 = AtomicU32::new(1);

impl Network {
    fn new(extra_plugins: &str) -> Network {
        assert!(
            Path::new(PLUGINS).join("bridge").exists(),
            "the CNI plugins are missing: run scripts/install-deps.sh"
        );
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let name = format!("sctest-{pid}-{n}");
        let bridge = format!("sct{}x{n}", pid % 100_000);
        let prefix = format!("10.{}.{}", 200 + pid % 50, n);
        let conf_dir = tempfile::tempdir().unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let conflist = format!(
            r#"{{"cniVersion":"1.0.0","name":"{name}","plugins":[
                {{"type":"bridge","bridge":"{bridge}","isGateway":true,"ipMasq":true,"hairpinMode":true,
                  "capabilities":{{"ips":true,"mac":true}},
                  "ipam":{{"type":"host-local","dataDir":"{data}","routes":[{{"dst":"0.0.0.0/0"}}],
                           "ranges":[[{{"subnet":"{prefix}.0/24","gateway":"{prefix}.1"}}]]}}}},
                {{"type":"portmap","snat":true,"capabilities":{{"portMappings":true}}}},
                {{"type":"firewall","backend":"iptables"}}{extra_plugins}]}}"#,
            data = data_dir.path().display(),
        );
        std::fs::write(conf_dir.path().join("50-test.conflist"), conflist).unwrap();
        // A copy under another file name for tests that put two networks in one directory.
        std::fs::copy(
            conf_dir.path().join("50-test.conflist"),
            data_dir.path().join(format!("{name}.conflist")),
        )
        .unwrap();
        Network {
            name,
            bridge,
            prefix,
            conf_dir,
            data_dir,
        }
    }

    /// The `run` options that attach a container to this network.
    fn options(&self) -> Vec<String> {
        vec![
            "--network".into(),
            self.name.clone(),
            "--cni-conf-dir".into(),
            self.conf_dir.path().display().to_string(),
            "--cni-bin-dir".into(),
            PLUGINS.into(),
        ]
    }

    /// Addresses host-local has handed out and not taken back.
    fn leases(&self) -> Vec<String> {
        let dir = self.data_dir.path().join(&self.name);
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| f != "lock" && !f.starts_with("last_reserved_ip"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The veths enslaved to the bridge.
    fn ports(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-o", "link", "show", "master", &self.bridge])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Every iptables rule (nft backend here) that names the container or one of its
/// addresses.
fn firewall_rules(id: &str, ips: &[String]) -> Vec<String> {
    rules_where(|l| l.contains(id) || names_address(l, ips))
}

fn names_address(rule: &str, ips: &[String]) -> bool {
    ips.iter()
        .any(|ip| rule.contains(&format!("{ip}/")) || rule.contains(&format!("{ip}:")))
}

fn rules_where(pred: impl Fn(&str) -> bool) -> Vec<String> {
    let out = Command::new("iptables-save").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| pred(l))
        .map(str::to_string)
        .collect()
}

/// Every iptables rule that names an address of the network (none once no container
/// is on it).
fn network_rules(net: &Network) -> Vec<String> {
    let prefix = format!("{}.", net.prefix);
    rules_where(|l| l.contains(&prefix))
}

/// Nothing of the container's networking is left on the host (and, with `last`, no
/// container is left on the network).
fn assert_detached(net: &Network, id: &str, ips: &[String], last: bool) {
    wait_for("the veths to go", Duration::from_secs(20), || {
        net.ports().is_empty()
    });
    assert!(net.leases().is_empty(), "leases left: {:?}", net.leases());
    let rules = firewall_rules(id, ips);
    assert!(rules.is_empty(), "rules left: {rules:#?}");
    if last {
        let rules = network_rules(net);
        assert!(rules.is_empty(), "rules of the network left: {rules:#?}");
    }
    let pin = Path::new("/run/syscontainer/netns").join(id);
    assert!(!pin.exists(), "{} left", pin.display());
}

fn settings(host: &Host, name: &str) -> serde_json::Value {
    serde_json::from_str(&host.inspect(name, "{{json .NetworkSettings}}")).unwrap()
}

/// Start a TCP server in the container that answers every connection with `reply`.
fn serve(host: &Host, name: &str, port: u16, reply: &str) {
    let script = format!(
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => {port}, Listen => 5, ReuseAddr => 1) or die $!; \
         while (my $c = $s->accept) {{ print $c \"{reply}\\n\"; close $c }}"
    );
    host.exec(
        name,
        &["systemd-run", "--unit=sctest-serve", "perl", "-e", &script],
    );
    wait_for("the server to listen", Duration::from_secs(30), || {
        host.exec_out(
            name,
            &[
                "sh",
                "-c",
                &format!("grep -qi ':{port:04X} ' /proc/net/tcp && echo up"),
            ],
        ) == "up"
    });
}

/// What a TCP connection to `addr` reads, or the error.
fn fetch(addr: SocketAddr) -> String {
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) => return format!("connect {addr}: {e}"),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = String::new();
    match stream.read_to_string(&mut text) {
        Ok(_) => text.trim().to_string(),
        Err(e) => format!("read {addr}: {e}"),
    }
}

fn host_port() -> u16 {
    40_000 + (std::process::id() % 20_000) as u16
}

#[test]
fn containers_on_one_network_reach_each_other_the_host_and_published_ports() {
    let mut host = Host::new();
    let net = Network::new("");
    let ip_a = format!("{}.77", net.prefix);
    let mac_a = "02:5c:00:00:00:77";
    let published = host_port();
    let mut a_opts = net.options();
    a_opts.extend([
        "--ip".into(),
        ip_a.clone(),
        "--mac-address".into(),
        mac_a.into(),
        "-p".into(),
        format!("{published}:8000"),
    ]);
    let a_refs: Vec<&str> = a_opts.iter().map(String::as_str).collect();
    let id_a = host.boot("cni-a", &a_refs);
    let b_opts = net.options();
    let b_refs: Vec<&str> = b_opts.iter().map(String::as_str).collect();
    let id_b = host.boot("cni-b", &b_refs);

    // --ip and --mac-address took effect, and inspect shows them.
    let s = settings(&host, "cni-a");
    assert_eq!(s["IPAddress"], ip_a.as_str(), "{s:#}");
    assert_eq!(s["IPPrefixLen"], 24);
    assert_eq!(s["Gateway"], format!("{}.1", net.prefix).as_str());
    assert_eq!(s["MacAddress"], mac_a);
    assert_eq!(s["Networks"][&net.name]["IPAddress"], ip_a.as_str());
    assert_eq!(
        s["Ports"]["8000/tcp"][0]["HostPort"],
        published.to_string().as_str()
    );
    let inside = host.exec("cni-a", &["ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(inside.contains(&format!("{ip_a}/24")), "{inside}");
    assert_eq!(
        host.exec("cni-a", &["cat", "/sys/class/net/eth0/address"]),
        mac_a
    );
    let ip_b = settings(&host, "cni-b")["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ip_b.starts_with(&format!("{}.", net.prefix)), "{ip_b}");

    // Container to container, both ways.
    host.exec("cni-b", &["ping", "-c", "1", "-W", "10", &ip_a]);
    host.exec("cni-a", &["ping", "-c", "1", "-W", "10", &ip_b]);

    // The host reaches the container, directly and through the published port.
    serve(&host, "cni-a", 8000, "hello from a");
    let direct: SocketAddr = (ip_a.parse::<IpAddr>().unwrap(), 8000).into();
    assert_eq!(fetch(direct), "hello from a");
    let gateway: IpAddr = format!("{}.1", net.prefix).parse().unwrap();
    assert_eq!(fetch((gateway, published).into()), "hello from a");
    assert_eq!(fetch(([127, 0, 0, 1], published).into()), "hello from a");
    // And b reaches the port a publishes on the host.
    let from_b = host.exec_out(
        "cni-b",
        &[
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{gateway}/{published}; cat <&3"),
        ],
    );
    assert_eq!(from_b, "hello from a");

    // stop: DEL ran, nothing is left for a; b is untouched.
    host.ok(["stop", "-t", "30", "cni-a"]);
    assert!(
        net.leases().iter().all(|l| *l != ip_a),
        "{:?}",
        net.leases()
    );
    assert!(firewall_rules(&id_a, std::slice::from_ref(&ip_a)).is_empty());
    assert_eq!(settings(&host, "cni-a")["IPAddress"], "");
    host.exec("cni-b", &["ip", "-o", "addr", "show", "eth0"]);
    host.ok(["rm", "cni-a"]);
    host.ok(["rm", "-f", "cni-b"]);
    assert_detached(&net, &id_a, &[ip_a], false);
    assert_detached(&net, &id_b, &[ip_b], true);
}

#[test]
fn two_networks_give_eth0_and_eth1() {
    let mut host = Host::new();
    let first = Network::new("");
    let second = Network::new("");
    let copy = second
        .data_dir
        .path()
        .join(format!("{}.conflist", second.name));
    std::fs::copy(&copy, first.conf_dir.path().join("60-second.conflist")).unwrap();
    let mut opts = first.options();
    opts[1] = format!("{},{}", first.name, second.name);
    let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    let id = host.boot("cni-two", &refs);
    let s = settings(&host, "cni-two");
    let ip0 = s["Networks"][&first.name]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let ip1 = s["Networks"][&second.name]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s["IPAddress"], ip0.as_str(), "{s:#}");
    assert!(ip0.starts_with(&format!("{}.", first.prefix)), "{s:#}");
    assert!(ip1.starts_with(&format!("{}.", second.prefix)), "{s:#}");
    let eth1 = host.exec("cni-two", &["ip", "-o", "-4", "addr", "show", "eth1"]);
    assert!(eth1.contains(&format!("{ip1}/24")), "{eth1}");
    assert_eq!((first.ports().len(), second.ports().len()), (1, 1));
    host.ok(["rm", "-f", "cni-two"]);
    assert_detached(&first, &id, std::slice::from_ref(&ip0), true);
    assert_detached(&second, &id, &[ip1], true);
}

#[test]
fn a_crashed_container_is_detached_by_rm_force() {
    let mut host = Host::new();
    let net = Network::new("");
    let opts = net.options();
    let mut refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    let published = format!("{}:8000", host_port() + 1);
    refs.extend(["-p", &published]);
    let id = host.boot("cni-crash", &refs);
    let ip = settings(&host, "cni-crash")["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(net.leases(), vec![ip.clone()]);
    assert!(!firewall_rules(&id, std::slice::from_ref(&ip)).is_empty());
    let state = host.state("cni-crash");
    let monitor = state["MonitorPid"].as_i64().unwrap() as i32;
    let init = state["Pid"].as_i64().unwrap() as i32;
    assert!(monitor > 0 && init > 0, "{state}");
    for pid in [monitor, init] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    wait_for("monitor and PID 1 to die", Duration::from_secs(20), || {
        !pid_alive(monitor) && !pid_alive(init)
    });
    // The pinned namespace keeps the veth until DEL.
    assert_eq!(net.ports().len(), 1);
    host.ok(["rm", "-f", "cni-crash"]);
    assert_detached(&net, &id, &[ip], true);
}

#[test]
fn a_reboot_detaches_and_attaches_again() {
    let mut host = Host::new();
    let net = Network::new("");
    let mut opts = net.options();
    opts.extend(["--restart".into(), "on-reboot".into()]);
    let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    let id = host.boot("cni-reboot", &refs);
    let first = settings(&host, "cni-reboot")["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    host.run(["exec", "cni-reboot", "systemctl", "reboot"]);
    wait_for("a new PID 1", Duration::from_secs(90), || {
        let state = host.state("cni-reboot");
        state["RestartCount"] == 1 && state["Status"] == "running"
    });
    host.wait_booted("cni-reboot");
    let second = settings(&host, "cni-reboot")["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!second.is_empty());
    // The first boot's DEL ran: one veth and one lease, those of the second boot.
    wait_for(
        "the first boot's veth to go",
        Duration::from_secs(20),
        || net.ports().len() == 1,
    );
    assert_eq!(net.leases(), vec![second.clone()]);
    if first != second {
        let old = rules_where(|l| names_address(l, std::slice::from_ref(&first)));
        assert!(old.is_empty(), "{old:#?}");
    }
    let gateway = format!("{}.1", net.prefix);
    host.exec("cni-reboot", &["ping", "-c", "1", "-W", "10", &gateway]);
    host.ok(["rm", "-f", "cni-reboot"]);
    assert_detached(&net, &id, &[first, second], true);
}

/// In a user namespace the network namespace belongs to it; the plugins, run by host
/// root, still configure it.
#[test]
fn a_user_remapped_container_is_attached_too() {
    let shifted = shifted_rootfs(310_000);
    let host = Host::new();
    let net = Network::new("");
    let mut opts = net.options();
    opts.extend(["--user-remap".into(), "310000:310000:65535".into()]);
    let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
    let id = host.start_system("cni-userns", &shifted.path().join("rootfs"), &refs);
    let state = host.wait_booted("cni-userns");
    assert!(state == "running" || state == "degraded", "{state}");
    let ip = settings(&host, "cni-userns")["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let inside = host.exec("cni-userns", &["ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(inside.contains(&format!("{ip}/24")), "{inside}");
    let gateway = format!("{}.1", net.prefix);
    host.exec("cni-userns", &["ping", "-c", "1", "-W", "10", &gateway]);
    host.ok(["rm", "-f", "cni-userns"]);
    assert_detached(&net, &id, &[ip], true);
}

#[test]
fn a_failed_add_leaves_nothing_and_names_the_plugin() {
    let mut host = Host::new();
    let net = Network::new(r#",{"type":"sctest-no-such-plugin"}"#);
    let rootfs = host.rootfs();
    let mut args = vec![
        "run".to_string(),
        "-d".into(),
        "--name".into(),
        "cni-fail".into(),
    ];
    args.extend(["--cgroup-parent".into(), host.cgroup_parent.clone()]);
    args.extend(net.options());
    args.extend([
        "--system-container".into(),
        "--external-rootfs".into(),
        rootfs.display().to_string(),
        "none".into(),
        "init".into(),
    ]);
    let err = host.fails(&args);
    assert!(err.contains("sctest-no-such-plugin"), "{err}");
    let id = host.inspect("cni-fail", "{{.Id}}");
    assert_eq!(host.state("cni-fail")["Status"], "exited");
    assert_detached(&net, &id, &[], true);
    host.ok(["rm", "cni-fail"]);
}

/// ADD runs before the prestart hooks: a failing hook undoes the attachment too.
#[test]
fn a_failing_prestart_hook_undoes_the_attachment() {
    let mut host = Host::new();
    let net = Network::new("");
    let spec = net.data_dir.path().join("hooks.json");
    std::fs::write(&spec, r#"{"prestart": [{"path": "/bin/false"}]}"#).unwrap();
    let rootfs = host.rootfs();
    let mut args = vec![
        "run".to_string(),
        "-d".into(),
        "--name".into(),
        "cni-hook".into(),
    ];
    args.extend(["--cgroup-parent".into(), host.cgroup_parent.clone()]);
    args.extend(net.options());
    args.extend(["--hook-spec".into(), spec.display().to_string()]);
    args.extend([
        "--system-container".into(),
        "--external-rootfs".into(),
        rootfs.display().to_string(),
        "none".into(),
        "init".into(),
    ]);
    let err = host.fails(&args);
    assert!(err.contains("prestart"), "{err}");
    let id = host.inspect("cni-hook", "{{.Id}}");
    assert_detached(&net, &id, &[], true);
    host.ok(["rm", "cni-hook"]);
}

#[test]
fn network_options_are_checked_at_create() {
    let host = Host::new();
    let net = Network::new("");
    let rootfs = syscontainer_tests::rootfs_cache();
    let with = |extra: &[&str]| {
        let mut o: Vec<String> = net.options();
        o.extend(extra.iter().map(|s| s.to_string()));
        o
    };
    let refused = |opts: Vec<String>| {
        let refs: Vec<&str> = opts.iter().map(String::as_str).collect();
        host.refused(&rootfs, &refs)
    };
    let mut missing = net.options();
    missing[1] = "sctest-missing".into();
    let e = refused(missing);
    assert!(
        e.contains("sctest-missing") && e.contains(&net.conf_dir.path().display().to_string()),
        "{e}"
    );
    // daemon.json's cni-conf-dir (iSulad's key) is the default of --cni-conf-dir.
    let daemon = net.data_dir.path().join("daemon.json");
    std::fs::write(
        &daemon,
        format!(
            r#"{{"cni-conf-dir": "{}", "cni-bin-dir": "{PLUGINS}"}}"#,
            net.conf_dir.path().display()
        ),
    )
    .unwrap();
    let e = refused(vec![
        "--daemon-config".into(),
        daemon.display().to_string(),
        "--network".into(),
        "sctest-missing".into(),
    ]);
    assert!(
        e.contains(&net.conf_dir.path().display().to_string()),
        "{e}"
    );
    assert!(!e.contains("ignoring"), "{e}");
    let e = refused(with(&["-p", "8080:80", "-p", "8080:81"]));
    assert!(e.contains("8080/tcp") && e.contains("twice"), "{e}");
    let e = refused(vec!["-p".into(), "8080:80".into()]);
    assert!(e.contains("--publish") && e.contains("--network"), "{e}");
    let e = refused(vec![
        "--network".into(),
        "host".into(),
        "--ip".into(),
        "10.0.0.9".into(),
    ]);
    assert!(e.contains("--ip"), "{e}");
    let two = format!("{},{}", net.name, net.name.replace("sctest", "other"));
    let mut multi = with(&["--ip", "10.1.2.3"]);
    multi[1] = two;
    let e = refused(multi);
    assert!(e.contains("--ip") && e.contains("several"), "{e}");
    for (option, value) in [
        ("-p", "8080"),
        ("-p", "1:2/sctp"),
        ("--ip", "10.1.2"),
        ("--mac-address", "01:00:5e:00:00:01"),
        ("--network", "a,host"),
    ] {
        let e = refused(vec![option.to_string(), value.to_string()]);
        assert!(e.contains(value), "{option} {value}: {e}");
    }
    assert!(host.container_ids().is_empty());
}

/// The conflist the project ships names plugins that exist here.
#[test]
fn the_shipped_network_uses_installed_plugins() {
    let shipped =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../etc/cni/net.d/syscontainer.conflist");
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped).unwrap()).unwrap();
    for plugin in list["plugins"].as_array().unwrap() {
        let kind = plugin["type"].as_str().unwrap();
        assert!(Path::new(PLUGINS).join(kind).exists(), "{kind}");
    }
    let ipam = list["plugins"][0]["ipam"]["type"].as_str().unwrap();
    assert!(Path::new(PLUGINS).join(ipam).exists(), "{ipam}");
}
