//! CPU time per operation: what a server process and the load generator spent, on all their threads,
//! during one measurement, divided by the operations it completed.
//!
//! A rate alone does not say where the two cores went, nor how far a goal is from what an operation
//! costs: a ratio of 0.30 against a baseline at 45,000 req/s leaves each summary about 120 µs of
//! the two cores, the load generator's share included. Read from `/proc/<pid>/stat` (Linux);
//! elsewhere the columns say `-`. On PostgreSQL runs, the database's processes on this machine
//! (every process named `postgres`) are counted too: they share the same cores.

use std::collections::HashMap;
use std::time::Duration;

/// The command name of the database server's processes counted on PostgreSQL runs.
pub(crate) const DATABASE_PROCESS: &str = "postgres";

/// Clock ticks per second of `/proc/<pid>/stat`'s times: Linux's `USER_HZ`, which the kernel keeps
/// at 100 in what it shows to programs whatever its own tick rate (`getconf CLK_TCK`).
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of process `pid` (all its threads, living or ended), or `None` if it
/// cannot be read (not Linux, the process gone).
pub(crate) fn process_cpu(pid: u32) -> Option<Duration> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This process's CPU time (the load generator: its clients, and its in-process baselines).
pub(crate) fn own_cpu() -> Option<Duration> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// The CPU time of every process named `name` on this machine, by pid (those this process may
/// read), or `None` where `/proc` cannot be listed.
pub(crate) fn named_cpu(name: &str) -> Option<HashMap<u32, Duration>> {
    let mut found = HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(line) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if command_of(&line) == Some(name)
            && let Some(cpu) = parse_stat(&line)
        {
            found.insert(pid, cpu);
        }
    }
    Some(found)
}

/// The command name of a `/proc/<pid>/stat` line (field 2, between the first `(` and the last `)`).
fn command_of(line: &str) -> Option<&str> {
    let start = line.find('(')? + 1;
    let end = line.rfind(')')?;
    line.get(start..end)
}

/// What the processes of `end` spent since `start`: a process started in between counts whole, one
/// ended in between is not counted (its time is gone from `/proc`).
fn spent_since(start: &HashMap<u32, Duration>, end: &HashMap<u32, Duration>) -> Duration {
    end.iter()
        .map(|(pid, now)| now.saturating_sub(start.get(pid).copied().unwrap_or_default()))
        .sum()
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and
/// may itself hold spaces and parentheses, so the fields are counted after its last `)`: `utime` and
/// `stime` are fields 14 and 15, the 12th and 13th after it.
fn parse_stat(line: &str) -> Option<Duration> {
    let (_, rest) = line.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_millis(
        ticks.checked_mul(1000 / TICKS_PER_SECOND)?,
    ))
}

/// CPU time per operation during one measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuCost {
    /// The server process's, when there was one and it could be read.
    pub server: Option<Duration>,
    /// The load generator's (its clients; for in-process baselines, the work itself).
    pub client: Option<Duration>,
    /// The database server's processes' (PostgreSQL runs only).
    pub database: Option<Duration>,
}

impl CpuCost {
    /// The JSON fields, in µs per operation, named with `prefix` (`""` or `"baseline_"`).
    pub(crate) fn json_into(
        &self,
        prefix: &str,
        map: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        let us = |d: Option<Duration>| {
            d.map(|d| crate::report::round(d.as_secs_f64() * 1e6))
                .map_or(serde_json::Value::Null, serde_json::Value::from)
        };
        map.insert(format!("{prefix}server_cpu_us_per_op"), us(self.server));
        map.insert(format!("{prefix}client_cpu_us_per_op"), us(self.client));
        map.insert(format!("{prefix}database_cpu_us_per_op"), us(self.database));
    }
}

/// The CPU times at the start of a measurement.
#[derive(Debug, Clone)]
pub(crate) struct CpuWindow {
    server_pid: Option<u32>,
    server: Option<Duration>,
    client: Option<Duration>,
    /// The database's processes, when counted.
    database: Option<HashMap<u32, Duration>>,
}

impl CpuWindow {
    /// Starts counting, for the server process `server_pid` (if any), this process, and the
    /// PostgreSQL server's processes when `database` (a PostgreSQL run).
    pub(crate) fn start(server_pid: Option<u32>, database: bool) -> CpuWindow {
        CpuWindow {
            server_pid,
            server: server_pid.and_then(process_cpu),
            client: own_cpu(),
            database: database.then(|| named_cpu(DATABASE_PROCESS)).flatten(),
        }
    }

    /// What each side spent per operation since the start, over `ops` operations (`None` for a
    /// side that could not be read, or when nothing was done). Read while the server still runs.
    pub(crate) fn per_op(&self, ops: u64) -> CpuCost {
        let per = |start: Option<Duration>, end: Option<Duration>| -> Option<Duration> {
            let spent = end?.checked_sub(start?)?;
            let ops = u32::try_from(ops).ok().filter(|&n| n > 0)?;
            Some(spent / ops)
        };
        let database = self.database.as_ref().and_then(|start| {
            let end = named_cpu(DATABASE_PROCESS)?;
            per(Some(Duration::ZERO), Some(spent_since(start, &end)))
        });
        CpuCost {
            server: per(self.server, self.server_pid.and_then(process_cpu)),
            client: per(self.client, own_cpu()),
            database,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_the_last_parenthesis() {
        // A command name with spaces and parentheses: the fields are counted after its last `)`.
        let line = "4242 (tokio (rt) w) S 1 4242 4242 0 -1 4194304 900 0 0 0 \
                    1234 566 0 0 20 0 9 0 100 2000000 500 18446744073709551615";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(18_000)));
        assert_eq!(parse_stat("4242 (short) S 1"), None);
        assert_eq!(parse_stat("no parenthesis at all"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_loop_shows_as_this_process_cpu_per_operation() {
        let window = CpuWindow::start(Some(std::process::id()), false);
        let before = own_cpu().expect("own CPU time is readable on Linux");
        // Spin until this process has used 200 ms of CPU (however busy the machine is), or 20 s.
        let wall = std::time::Instant::now();
        while own_cpu().is_some_and(|now| now < before + Duration::from_millis(200))
            && wall.elapsed() < Duration::from_secs(20)
        {
            std::hint::black_box(
                (0..10_000u64).fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(b)),
            );
        }
        let cost = window.per_op(4);
        // 200 ms over 4 operations: 50 ms each, give or take a tick of 10 ms.
        let client = cost.client.expect("own CPU time is readable on Linux");
        assert!(
            client >= Duration::from_millis(45) && client <= Duration::from_millis(70),
            "{client:?}"
        );
        // The "server" here is this same process: the same figure.
        let server = cost
            .server
            .expect("a process's CPU time is readable by its pid");
        assert!(
            server.abs_diff(client) <= Duration::from_millis(10),
            "{server:?} {client:?}"
        );
        assert_eq!(window.per_op(0), CpuCost::default());
        assert_eq!(cost.database, None, "not a PostgreSQL run");
    }

    #[test]
    fn the_command_name_is_what_the_parentheses_hold() {
        assert_eq!(command_of("42 (postgres) S 1"), Some("postgres"));
        assert_eq!(command_of("42 (tokio (rt) w) S 1"), Some("tokio (rt) w"));
        assert_eq!(command_of("no parenthesis"), None);
    }

    #[test]
    fn processes_started_meanwhile_count_whole_and_ended_ones_not_at_all() {
        let ms = Duration::from_millis;
        let start = HashMap::from([(1, ms(100)), (2, ms(50)), (3, ms(70))]);
        // 1 ran 30 ms more, 2 ended, 4 started and ran 20 ms, 3 did not run.
        let end = HashMap::from([(1, ms(130)), (3, ms(70)), (4, ms(20))]);
        assert_eq!(spent_since(&start, &end), ms(50));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn processes_are_found_by_their_command_name() {
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        let name = command_of(&me).unwrap().to_owned();
        let found = named_cpu(&name).expect("/proc is listed on Linux");
        assert!(found.contains_key(&std::process::id()), "{name}: {found:?}");
        assert!(named_cpu("no-such-command-here").unwrap().is_empty());
    }
}
