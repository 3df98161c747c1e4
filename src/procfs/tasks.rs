//! `/proc/PID/task`: the thread IDs of a process.

use super::{proc_path, ProcError};

/// The thread IDs listed in `/proc/PID/task`, sorted, the main thread (tid == pid) first.
///
/// The list is a snapshot: threads may be born or exit right after it is read, which is why the
/// ptrace freeze re-lists until it finds no new thread.
pub fn list_tasks(pid: i32) -> Result<Vec<i32>, ProcError> {
    let dir = proc_path(pid, "task");
    let io_err = |source| ProcError::Io {
        context: format!("listing {}", dir.display()),
        source,
    };
    let mut tids: Vec<i32> = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        // Entries are decimal TIDs; anything else is not a thread and is ignored.
        if let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        {
            tids.push(tid);
        }
    }
    tids.sort_unstable_by_key(|&t| (t != pid, t));
    Ok(tids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_task_list_starts_with_main_thread() {
        let me = std::process::id() as i32;
        let t =
            std::thread::spawn(|| std::thread::park_timeout(std::time::Duration::from_millis(200)));
        let tids = list_tasks(me).unwrap();
        assert_eq!(tids[0], me);
        assert!(tids.len() >= 2, "{tids:?}");
        t.thread().unpark();
        t.join().unwrap();
    }
}
