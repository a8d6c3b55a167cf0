//! Runs programs (mpirun jobs, the helper) with a deadline, capturing their output.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A generous bound against hangs (never a speed check).
pub const DEADLINE: Duration = Duration::from_secs(120);

pub const HELPER: &str = env!("CARGO_BIN_EXE_mpi-test-helper");
pub const TWIN: &str = env!("CARGO_BIN_EXE_mpi-test-helper-twin");

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn assert_ok(&self, lines: &[&str]) {
        assert!(
            self.status.success(),
            "job failed: {}\n{}",
            self.status,
            self.all()
        );
        for l in lines {
            assert!(
                self.stdout.lines().any(|x| x == *l),
                "missing line {l:?} in:\n{}",
                self.all()
            );
        }
    }
}

/// Runs `cmd` in its own process group, killing the group if it outlives `deadline`.
pub fn run(mut cmd: Command, deadline: Duration) -> Run {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir();
    let tag = format!(
        "multiproc-mpi-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let out_path = dir.join(format!("{tag}.out"));
    let err_path = dir.join(format!("{tag}.err"));
    let out = std::fs::File::create(&out_path).expect("temp file");
    let err = std::fs::File::create(&err_path).expect("temp file");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .expect("the program starts (is OpenMPI installed?)");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if start.elapsed() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = match status {
        Some(s) => s,
        None => {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            let o = std::fs::read_to_string(&out_path).unwrap_or_default();
            let e = std::fs::read_to_string(&err_path).unwrap_or_default();
            let _ = std::fs::remove_file(&out_path);
            let _ = std::fs::remove_file(&err_path);
            panic!("{cmd:?} still running after {deadline:?}: killed\n{o}\n{e}");
        }
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Run {
        status,
        stdout,
        stderr,
    }
}

/// What the helper's `close` scenario prints, locally and under `mpirun` alike.
pub const CLOSE_LINES: &[&str] = &[
    "ok join while running",
    "ok imap next_timeout",
    "ok closed pool refuses",
    "ok join_timeout while the imap is pending",
    "ok an imap made before close is served",
    "ok queued work finished before join",
    "done",
];

/// `mpirun` with the flags this kind of machine needs (root allowed, more ranks than
/// cores, yielding when idle, no core binding).
pub fn mpirun() -> Command {
    let mut c = Command::new("mpirun");
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "--bind-to",
        "none",
        "--mca",
        "mpi_yield_when_idle",
        "1",
    ]);
    c
}

/// Whether this process runs as root (`id -u`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Writes `files` deterministic text files into a fresh directory.
pub fn corpus(files: usize) -> std::path::PathBuf {
    const WORDS: &[&str] = &[
        "process", "queue", "pipe", "lock", "the", "pool", "worker", "rank", "host", "a",
        "message", "signal",
    ];
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "multiproc-mpi-corpus-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("corpus dir");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..files {
        let mut text = String::new();
        for j in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let r = (seed % 1000) as usize;
            text.push_str(WORDS[(r * r / 1000) * WORDS.len() / 1000]);
            text.push(if j % 12 == 11 { '\n' } else { ' ' });
        }
        std::fs::write(dir.join(format!("part-{i:02}.txt")), text).expect("write");
    }
    dir
}
