//! Counting the processes a step started, by a marker in their environment, from the host's
//! `/proc` (which also sees the processes of runc containers).

/// The live processes whose environment holds `PROBE=<marker>` (zombies have ended and do
/// not count).
pub fn processes_marked(marker: &str) -> usize {
    let wanted = format!("PROBE={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|entry| {
            std::fs::read(entry.path().join("environ")).is_ok_and(|environ| {
                environ
                    .split(|byte| *byte == 0)
                    .any(|pair| pair == wanted.as_bytes())
            })
        })
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                stat.rfind(')')
                    .and_then(|end| stat[end + 1..].split_whitespace().next())
                    .is_some_and(|state| state != "Z" && state != "X")
            })
        })
        .count()
}
