//! `bss2 protocol encode/decode` through the binary: round trips, and malformed input gives exit status 1 with
//! a line naming the word (or line) and the reason, never a panic.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bss2"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn from_fpga_words_decode_to_lines_and_back() {
    // Spec §2.2: a SpikePack3 straddling two words, a Sysdelta and a flush.
    let words = "0C10012311456712 89AB060000000000\n0x0005800000000000\n";
    let (code, lines, _) = run(&["protocol", "decode", "--direction", "from-fpga"], words);
    assert_eq!(code, Some(0));
    assert_eq!(lines, "spike_pack3 0x10:0x0123 0x11:0x4567 0x12:0x89ab\nsysdelta 5\nflush\n");
    let (code, back, _) = run(&["protocol", "encode", "--direction", "from-fpga"], &lines);
    assert_eq!(code, Some(0));
    assert_eq!(back, "0c10012311456712\n89ab060000000000\n0005800000000000\n");
}

#[test]
fn to_fpga_lines_encode_to_words_and_back() {
    let text = "timer_setup\nwait_until 1000   # 8 us\nomnibus_address 0x02cf0083 write be=0xf\nomnibus_data 0x0000b700\n\
                spike_pack1 0x1234\nloopback halt\n";
    let (code, words, _) = run(&["protocol", "encode", "--direction", "to-fpga"], text);
    assert_eq!(code, Some(0));
    assert_eq!(
        words,
        "0400000000000000\n05000000000003e8\n0b00000f02cf0083\n0c0000000000b700\n0d00000000001234\n0a00000000000000\n"
    );
    let (code, lines, _) = run(&["protocol", "decode", "--direction", "to-fpga"], &words);
    assert_eq!(code, Some(0));
    assert!(lines.starts_with("timer_setup\nwait_until 1000\nomnibus_address 0x02cf0083 write be=0xf\n"), "{lines}");
}

#[test]
fn malformed_input_names_the_place_and_never_panics() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["protocol", "decode", "--direction", "to-fpga"], "0500000000000001 xyz", "word 1"),
        (&["protocol", "decode", "--direction", "to-fpga"], "0500000100000000", "word 0"),
        (&["protocol", "decode", "--direction", "to-fpga"], "1000000000000000", "unknown instruction header 16"),
        (&["protocol", "decode", "--direction", "from-fpga"], "0C10012311456712", "ends inside a message"),
        (&["protocol", "decode", "--direction", "from-fpga"], "0A00000000000000 0D00000000000000", "word 1"),
        (&["protocol", "decode", "--direction", "to-fpga"], "00000000000000000", "word 0"),
        (&["protocol", "encode", "--direction", "to-fpga"], "timer_setup\nwait_until x\n", "line 2"),
        (&["protocol", "encode", "--direction", "from-fpga"], "spike_pack9 1:2\n", "unknown message"),
    ];
    for (args, input, expected) in cases {
        let (code, _, stderr) = run(args, input);
        assert_eq!(code, Some(1), "{input:?}: {stderr}");
        assert!(stderr.contains(expected) && !stderr.contains("panicked"), "{input:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// Like `run`, for inputs the command may stop reading early (it exits at the first error).
fn run_until_error(args: &[&str], input: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bss2"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // A broken pipe only means that the command stopped reading.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn hex_words_must_be_16_digits_and_errors_say_where_cut_short() {
    let decode = &["protocol", "decode", "--direction", "to-fpga"][..];
    for (input, expected) in [
        ("0500000000000001 050000000000001", "word 1 (line 1, column 18): \"050000000000001\""),
        ("0500000000000001\n  0x5", "word 1 (line 2, column 3): \"0x5\""),
        ("0500_0000_0000_0001", "word 0 (line 1, column 1)"),
    ] {
        let (code, _, stderr) = run(decode, input);
        assert_eq!(code, Some(1), "{input:?}: {stderr}");
        assert!(stderr.contains(expected) && stderr.contains("16 hex digits"), "{input:?}: {stderr}");
    }
    // A 10 MB token: the message quotes its start and says how long it is.
    let (code, stderr) = run_until_error(decode, &"7".repeat(10_000_000));
    assert_eq!(code, Some(1));
    assert!(stderr.len() < 300 && stderr.contains("... (10000000 bytes)"), "{stderr}");
    // A huge line to encode likewise.
    let (code, stderr) = run_until_error(&["protocol", "encode", "--direction", "to-fpga"], &"x".repeat(1_000_000));
    assert_eq!(code, Some(1));
    assert!(stderr.len() < 300 && stderr.contains("line 1"), "{stderr}");
}

/// Decoding streams: every message is printed before the input ends, and memory stays bounded (read from the
/// running process's peak resident size while its input is still open).
#[test]
fn decoding_streams_with_bounded_memory() {
    use std::io::BufRead;
    const WORDS: usize = 2_000_000;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bss2"))
        .args(["protocol", "decode", "--direction", "to-fpga"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let all = (0..WORDS).all(|i| lines.next().and_then(Result::ok) == Some(format!("wait_until {}", i % 1000)));
        let _ = done.send(all);
    });
    let mut text = String::new();
    for i in 0..WORDS {
        text.push_str(&format!("05000000{:08x}\n", i % 1000));
        if text.len() > 1 << 16 {
            stdin.write_all(text.as_bytes()).unwrap();
            text.clear();
        }
    }
    stdin.write_all(text.as_bytes()).unwrap();
    stdin.flush().unwrap();
    // All 2 M lines come out while the input is still open: the decoder does not wait for the end (a generous
    // outer bound, so that a decoder that does wait fails instead of hanging).
    match finished.recv_timeout(std::time::Duration::from_secs(300)) {
        Ok(all) => assert!(all, "the lines differ from the words"),
        Err(_) => {
            let _ = child.kill();
            panic!("the decoder printed nothing before the end of its input");
        }
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    // 34 MB of input (the old reader held about 200 MB for it).
    assert!(peak_kb < 32 * 1024, "peak resident memory {peak_kb} kB");
    eprintln!("decoding {WORDS} words: peak resident memory {peak_kb} kB");
}
