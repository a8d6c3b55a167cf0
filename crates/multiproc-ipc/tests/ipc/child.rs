//! Passing a Connection and a SharedSegment to another process (an exec'd copy of this
//! test binary, reached through its stdin socket) and using them there.

use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::Duration;

use multiproc_ipc::{Connection, Pipe, SharedSegment};

use multiproc_test_support::{reap_after, this_test_binary};

use crate::TestResult;

const CHILD_ENV: &str = "MULTIPROC_IPC_TEST_CHILD";

/// What the parent hands the child over the bootstrap socket.
#[derive(serde::Serialize, serde::Deserialize)]
struct Gift {
    conn: Connection,
    seg: SharedSegment,
    greeting: String,
}

/// Not a test of its own: the body of the child process. Without the environment
/// variable it returns at once.
#[test]
fn child_entry() -> TestResult {
    if std::env::var_os(CHILD_ENV).is_none() {
        return Ok(());
    }
    let boot = Connection::from_fd(std::io::stdin().as_fd().try_clone_to_owned()?);
    let gift: Gift = boot.recv_timeout(Duration::from_secs(20))?;
    // Read what the parent wrote into the shared memory, then write our answer.
    let seen = read_seg(&gift.seg);
    assert_eq!(seen, "parent was here");
    let text = format!("{} from pid {}", gift.greeting, std::process::id());
    write_seg(&gift.seg, &text);
    // Use the passed connection: echo numbers, doubled, until the parent says stop.
    loop {
        let n: Option<u64> = gift.conn.recv_timeout(Duration::from_secs(20))?;
        match n {
            Some(n) => gift.conn.send(&(n * 2))?,
            None => break,
        }
    }
    gift.conn.send(&text)?;
    Ok(())
}

#[test]
fn connection_and_segment_work_in_an_execd_child() -> TestResult {
    let (boot_parent, boot_child) = Pipe::duplex()?;
    let child = this_test_binary("child::child_entry")?
        .env(CHILD_ENV, "1")
        .stdin(Stdio::from(boot_child.into_fd()))
        .stdout(Stdio::null())
        .spawn()?;
    let result = (|| -> TestResult {
        let (mine, theirs) = Pipe::duplex()?;
        let seg = SharedSegment::new(4096)?;
        write_seg(&seg, "parent was here");
        boot_parent.send(&Gift {
            conn: theirs,
            seg: seg.clone(),
            greeting: "hello".into(),
        })?;
        for n in [1u64, 21, 1 << 40] {
            mine.send(&Some(n))?;
            assert_eq!(mine.recv_timeout::<u64>(Duration::from_secs(30))?, n * 2);
        }
        mine.send(&None::<u64>)?;
        let text: String = mine.recv_timeout(Duration::from_secs(30))?;
        assert!(text.starts_with("hello from pid "));
        // The child wrote the same text into the shared pages.
        assert_eq!(read_seg(&seg), text);
        Ok(())
    })();
    reap_after(child, result)
}

/// Stores `text` as a length-prefixed string at the start of `seg`.
fn write_seg(seg: &SharedSegment, text: &str) {
    let mut bytes = (text.len() as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    assert!(bytes.len() <= seg.len());
    // SAFETY:
    // - `seg.as_ptr()` is valid for `seg.len()` bytes, and `bytes.len() <= seg.len()`;
    // - the other process only touches the segment when told to over the connection,
    //   so there is no concurrent access to these bytes.
    #[allow(unsafe_code)]
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), seg.as_ptr(), bytes.len());
    }
}

/// Reads the string stored by [`write_seg`].
fn read_seg(seg: &SharedSegment) -> String {
    let mut len = [0u8; 4];
    // SAFETY: as in `write_seg`: in bounds (checked below for the body), no concurrent writer.
    #[allow(unsafe_code)]
    unsafe {
        std::ptr::copy_nonoverlapping(seg.as_ptr(), len.as_mut_ptr(), 4);
    }
    let len = (u32::from_le_bytes(len) as usize).min(seg.len() - 4);
    let mut body = vec![0u8; len];
    // SAFETY: `4 + len <= seg.len()` by the `min` above; no concurrent writer.
    #[allow(unsafe_code)]
    unsafe {
        std::ptr::copy_nonoverlapping(seg.as_ptr().add(4), body.as_mut_ptr(), len);
    }
    String::from_utf8_lossy(&body).into_owned()
}
