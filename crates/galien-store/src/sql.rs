//! SQL text shared by both engines (both accept `$n` parameters).

/// `($1, $2, …), ($k+1, …)`: the `VALUES` list of a multi-row `INSERT` of `rows` rows of `columns`
/// parameters each, numbered in order (one row: the list of an `IN`).
pub(crate) fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 1..=columns {
            if c > 1 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c).to_string());
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_numbered_row_after_row() {
        assert_eq!(super::values(1, 2), "($1, $2)");
        assert_eq!(super::values(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
