//! Real `mpirun` jobs (feature `openmpi`): every result checked, panics, a rank killed
//! mid-map, a mismatched binary, and the two-namespace "two hosts" word count.

mod common;

use std::process::Command;

use common::{CLOSE_LINES, DEADLINE, HELPER, TWIN, corpus, is_root, mpirun, run};

#[test]
fn map_imap_apply_on_4_ranks() {
    let mut c = mpirun();
    c.args(["-np", "4", HELPER, "basic"]);
    let r = run(c, DEADLINE);
    r.assert_ok(&[
        "rank 0: mpi true workers 3",
        "ok map",
        "ok map_chunked",
        "ok starmap",
        "ok imap",
        "ok imap chunksize",
        "ok imap_unordered",
        "ok apply",
        "ok apply_async",
        "ok callbacks",
        "ok empty map",
        "ok chunksize 0 refused",
        "ok every worker rank ran tasks",
        "ok cancel a queued map",
        "ok cancel twice",
        "ok a cancelled map is Cancelled",
        "ok the running tasks finish",
        "ok the pool carries on after a cancel",
        "done",
    ]);
}

#[test]
fn rank_0_traces_which_rank_ran_what() {
    let mut c = mpirun();
    c.args(["-x", "MPI_HELPER_TRACE=1", "-np", "3", HELPER, "basic"]);
    let r = run(c, DEADLINE);
    r.assert_ok(&[
        "rank 0: mpi true workers 2",
        "ok every worker rank ran tasks",
        "done",
    ]);
    for rank in [1, 2] {
        assert!(
            r.stderr.contains(&format!("task ran on rank {rank}")),
            "no debug trace for rank {rank}:\n{}",
            r.stderr
        );
    }
}

#[test]
fn a_panicking_task_is_an_error_and_the_rank_survives() {
    let mut c = mpirun();
    c.args(["-np", "3", HELPER, "panic"]);
    run(c, DEADLINE).assert_ok(&[
        "ok apply panic message",
        "ok map panic",
        "ok imap keeps the items around a panic",
        "ok apply_async panic",
        "ok error_callback",
        "ok the worker survives",
        "done",
    ]);
}

#[test]
fn close_lets_queued_work_finish_and_terminate_resolves_at_once() {
    let mut c = mpirun();
    c.args(["-np", "3", HELPER, "close"]);
    run(c, DEADLINE).assert_ok(CLOSE_LINES);
    let mut c = mpirun();
    c.args(["-np", "3", HELPER, "terminate"]);
    run(c, DEADLINE).assert_ok(&[
        "ok terminate resolves pending results",
        "ok join after terminate",
        "done",
    ]);
}

#[test]
fn a_rank_killed_mid_map_ends_the_job_with_the_error_printed() {
    // abort(), SIGKILL from outside, and exit(0) without finalizing MPI: each ends the
    // whole job (no hang), non-zero, with mpirun naming the rank and the cause.
    for (how, says) in [
        ("abort", "exited on signal 6 (Aborted)"),
        ("sigkill", "exited on signal 9 (Killed)"),
        ("exit", "exiting improperly"),
    ] {
        let mut c = mpirun();
        c.args(["-np", "4", HELPER, "kill", how]);
        let r = run(c, DEADLINE);
        assert!(!r.status.success(), "{how}: the job must fail: {}", r.all());
        assert!(
            r.stdout.contains("mapping; item 37 kills its rank"),
            "{how}: {}",
            r.all()
        );
        assert!(
            !r.stdout.contains("map returned"),
            "{how}: rank 0 went on: {}",
            r.all()
        );
        assert!(!r.stdout.contains("done"), "{how}: {}", r.all());
        assert!(
            r.all().contains(says),
            "{how}: mpirun names the cause: {}",
            r.all()
        );
        assert!(
            r.all().contains("process rank "),
            "{how}: and the rank: {}",
            r.all()
        );
    }
}

#[test]
fn a_mismatched_binary_is_refused() {
    let mut c = mpirun();
    c.args(["-np", "1", HELPER, "hello", ":", "-np", "1", TWIN]);
    let r = run(c, DEADLINE);
    assert!(!r.status.success(), "{}", r.all());
    assert!(
        r.stderr
            .contains("refused: rank 1 runs a different executable than rank 0"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("every rank must run the same build"),
        "{}",
        r.all()
    );
    assert!(!r.stdout.contains("rank 0: mpi"), "{}", r.all());
}

#[test]
fn a_single_rank_runs_tasks_locally() {
    let mut c = mpirun();
    c.args(["-np", "1", HELPER, "basic"]);
    run(c, DEADLINE).assert_ok(&["rank 0: mpi false workers 2", "ok map", "done"]);
}

#[test]
fn wordcount_on_3_ranks() {
    let dir = corpus(12);
    let mut c = mpirun();
    c.args(["-np", "3", HELPER, "wordcount"]).arg(&dir);
    let r = run(c, DEADLINE);
    let _ = std::fs::remove_dir_all(&dir);
    r.assert_ok(&["ok word counts equal a serial count", "done"]);
}

/// Two network namespaces joined by a veth pair, deleted on drop (even on failure).
struct TwoHosts {
    a: String,
    b: String,
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let s = Command::new("ip").args(args).status().expect("ip runs");
    assert!(s.success(), "ip {args:?} failed");
}

fn veth_bytes(ns: &str, dev: &str) -> u64 {
    let p = format!("/sys/class/net/{dev}/statistics/tx_bytes");
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "cat", &p])
        .output()
        .expect("ip netns exec");
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn wordcount_across_two_simulated_hosts() {
    if !is_root() {
        println!("skipped: the two-namespace run needs root (ip netns)");
        return;
    }
    if Command::new("ip").arg("-V").output().is_err() {
        println!("skipped: iproute2 (ip) is not installed");
        return;
    }
    let id = std::process::id();
    let hosts = TwoHosts {
        a: format!("mpA-{id}"),
        b: format!("mpB-{id}"),
    };
    let (va, vb) = (format!("vA{id}"), format!("vB{id}"));
    ip(&["netns", "add", &hosts.a]);
    ip(&["netns", "add", &hosts.b]);
    ip(&[
        "link", "add", &va, "netns", &hosts.a, "type", "veth", "peer", "name", &vb, "netns",
        &hosts.b,
    ]);
    ip(&["-n", &hosts.a, "addr", "add", "10.231.77.1/24", "dev", &va]);
    ip(&["-n", &hosts.b, "addr", "add", "10.231.77.2/24", "dev", &vb]);
    for (ns, dev) in [(&hosts.a, &va), (&hosts.b, &vb)] {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
    let dir = corpus(16);
    // An rsh agent that starts the remote side in the other namespace, with its own
    // host name, instead of ssh.
    let agent = dir.join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nwhile [ \"${{1#-}}\" != \"$1\" ]; do shift; done\nhost=$1; shift\n\
             case \"$host\" in 10.231.77.1) ns={a} ;; 10.231.77.2) ns={b} ;; *) exit 1 ;; esac\n\
             exec ip netns exec \"$ns\" unshare --uts sh -c \"hostname node-$ns; $*\"\n",
            a = hosts.a,
            b = hosts.b
        ),
    )
    .expect("agent");
    let _ = Command::new("chmod").arg("+x").arg(&agent).status();
    let hostfile = dir.join("hosts");
    std::fs::write(&hostfile, "10.231.77.1 slots=1\n10.231.77.2 slots=1\n").expect("hosts");
    let texts = dir.join("texts");
    std::fs::create_dir_all(&texts).expect("texts dir");
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        if e.path().extension().is_some_and(|x| x == "txt") {
            let _ = std::fs::rename(e.path(), texts.join(e.file_name()));
        }
    }
    let before = veth_bytes(&hosts.b, &vb);
    let mut c = Command::new("ip");
    c.args([
        "netns",
        "exec",
        &hosts.a,
        "mpirun",
        "--allow-run-as-root",
        "--hostfile",
    ])
    .arg(&hostfile)
    .args(["--mca", "plm_rsh_agent"])
    .arg(&agent)
    .args([
        "--mca",
        "btl",
        "tcp,self",
        "--mca",
        "btl_tcp_if_include",
        "10.231.77.0/24",
        "--mca",
        "oob_tcp_if_include",
        "10.231.77.0/24",
        "--mca",
        "mpi_yield_when_idle",
        "1",
        "-np",
        "2",
        HELPER,
        "wordcount",
    ])
    .arg(&texts);
    let r = run(c, DEADLINE);
    let after = veth_bytes(&hosts.b, &vb);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{}", r.stdout);
    r.assert_ok(&[
        "rank 0: mpi true workers 1",
        "ok word counts equal a serial count",
        "done",
    ]);
    // The worker rank ran in the other "host" (its own namespace and host name), and
    // its traffic crossed the veth pair.
    assert!(
        r.stdout
            .contains(&format!("worker hosts: [\"node-{}\"]", hosts.b)),
        "{}",
        r.all()
    );
    assert!(after > before, "nothing left host B");
}
