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
