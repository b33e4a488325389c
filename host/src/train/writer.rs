//! Writes a run's per-epoch files (resume point, metrics, snapshots) on a thread of their own, in order, each
//! atomically as [`RunDir::write`] does, while the next epoch trains: waiting for the disk (fsync) then no
//! longer idles the core, which for short epochs was a tenth of a run's time. At most [`QUEUE`] epochs' files
//! wait; a kill at any moment leaves complete files, at worst an epoch older, and a run resumed from an older
//! resume point ends exactly as an uninterrupted one.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::run_dir::RunDir;
use crate::io::IoError;

/// Epochs whose files may wait to be written before training waits for the disk.
const QUEUE: usize = 2;

/// Files of one epoch: (path, content).
pub type Files = Vec<(PathBuf, Vec<u8>)>;

/// The background writer of one run.
#[derive(Debug)]
pub struct EpochWriter {
    sender: Option<SyncSender<Files>>,
    thread: Option<JoinHandle<Result<(), IoError>>>,
}

impl EpochWriter {
    /// Starts the writer thread for `dir`.
    pub fn new(dir: RunDir) -> EpochWriter {
        let (sender, receiver) = sync_channel::<Files>(QUEUE);
        let thread = std::thread::Builder::new().name("epoch-writer".into()).spawn(move || write_all(&dir, receiver));
        match thread {
            Ok(thread) => EpochWriter { sender: Some(sender), thread: Some(thread) },
            // No thread to be had: write in the caller's thread instead (see `write`).
            Err(_) => EpochWriter { sender: None, thread: None },
        }
    }

    /// Queues `files` (written in order after everything queued before); returns an earlier write's error.
    pub fn write(&mut self, dir: &RunDir, files: Files) -> Result<(), IoError> {
        let Some(sender) = &self.sender else {
            return files.iter().try_for_each(|(path, bytes)| dir.write(path, bytes));
        };
        if let Err(rejected) = sender.send(files) {
            // The thread stopped at an error: report it (and write nothing more).
            self.finish()?;
            return rejected.0.iter().try_for_each(|(path, bytes)| dir.write(path, bytes));
        }
        Ok(())
    }

    /// Waits until every queued file is written; the first error, if any.
    pub fn finish(&mut self) -> Result<(), IoError> {
        self.sender = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => {
                Err(IoError::os(&PathBuf::from("epoch writer"), std::io::Error::other("the writer thread panicked")))
            }
            None => Ok(()),
        }
    }
}

impl Drop for EpochWriter {
    /// A run that stops early (an error) still gets every queued file written before it returns.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn write_all(dir: &RunDir, receiver: Receiver<Files>) -> Result<(), IoError> {
    for files in receiver {
        for (path, bytes) in &files {
            dir.write(path, bytes)?;
        }
    }
    Ok(())
}
