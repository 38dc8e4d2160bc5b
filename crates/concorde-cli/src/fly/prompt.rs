//! Yes/no questions as fly asks them: `QUESTION [yN]: `, no by default, asked again on any
//! answer that is not y, n, yes or no.

use std::io::{BufRead, Write};

/// Asks `question`; end of input counts as no.
pub fn confirm(
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
    question: &str,
) -> std::io::Result<bool> {
    loop {
        write!(stdout, "{question} [yN]: ")?;
        stdout.flush()?;
        let mut answer = String::new();
        if stdin.read_line(&mut answer)? == 0 {
            writeln!(stdout)?;
            return Ok(false);
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "" | "n" | "no" => return Ok(false),
            _ => writeln!(stdout, "invalid input (not y, n, yes, or no)")?,
        }
    }
}
