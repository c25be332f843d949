//! Member lists as files, for the bulk path (`POST /bulk/members`) and the CLI import:
//! JSON Lines (one `MemberRecord` object per line) or CSV (a header row naming the same
//! fields; `languages` and `interests` separated by `;`).
//!
//! A row that cannot be read is reported by its index like any invalid row; only a file
//! that is not a member list at all (a CSV header with unknown columns, bytes that are not
//! UTF-8) refuses the whole request.

use crate::domain::input::UserErrorCode;
use crate::error::{ApiError, ApiResult};
use crate::service::sync::{MemberRecord, RowError};

/// The formats the bulk path reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
}

impl Format {
    /// The format of a `Content-Type` (parameters such as `charset` are ignored).
    pub fn from_content_type(value: &str) -> Option<Self> {
        match value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/x-jsonlines" | "application/json-seq" => {
                Some(Self::JsonLines)
            }
            "text/csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// The format of a file by its extension (`.jsonl`, `.ndjson`, `.csv`).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" => Some(Self::JsonLines),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// The rows of a member list, in order, with the rows that could not be read (their place
/// in `members` holds an empty record, which the sync skips).
#[derive(Debug, Default)]
pub struct MemberList {
    pub members: Vec<MemberRecord>,
    pub unreadable: Vec<RowError>,
}

impl MemberList {
    fn unreadable(&mut self, message: String) {
        self.unreadable.push(RowError {
            index: self.members.len(),
            external_id: None,
            field: String::new(),
            code: UserErrorCode::Invalid,
            message,
        });
        self.members.push(MemberRecord::default());
    }
}

/// Reads a member list.
///
/// # Errors
/// `BAD_USER_INPUT` for bytes that are not UTF-8 text or a CSV header with unknown columns.
pub fn parse(bytes: &[u8], format: Format) -> ApiResult<MemberList> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::bad_input("body", format!("the member list is not UTF-8 text (at byte {})", e.valid_up_to()))
    })?;
    match format {
        Format::JsonLines => Ok(json_lines(text)),
        Format::Csv => csv_rows(text),
    }
}

fn json_lines(text: &str) -> MemberList {
    let mut list = MemberList::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<MemberRecord>(line) {
            Ok(record) => list.members.push(record),
            Err(err) => list.unreadable(format!("line {}: not a member object: {err}", number + 1)),
        }
    }
    list
}

const COLUMNS: [&str; 11] = [
    "externalId",
    "email",
    "fullName",
    "countryCode",
    "institution",
    "sector",
    "jobTitle",
    "yearsExperience",
    "languages",
    "interests",
    "active",
];

fn csv_rows(text: &str) -> ApiResult<MemberList> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ApiError::bad_input("body", format!("the CSV header cannot be read: {e}")))?
        .clone();
    let mut columns = Vec::with_capacity(headers.len());
    for name in &headers {
        match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(i) => columns.push(i),
            None => {
                return Err(ApiError::bad_input(
                    "body",
                    format!("unknown CSV column {name:?}; the columns are {}", COLUMNS.join(", ")),
                ));
            }
        }
    }
    if !columns.contains(&0) {
        return Err(ApiError::bad_input("body", "the CSV header must name the column externalId"));
    }
    let mut list = MemberList::default();
    for (number, row) in reader.records().enumerate() {
        let line = number + 2;
        let row = match row {
            Ok(row) if row.len() == columns.len() => row,
            Ok(row) => {
                list.unreadable(format!("line {line}: {} fields, the header has {}", row.len(), columns.len()));
                continue;
            }
            Err(err) => {
                list.unreadable(format!("line {line}: {err}"));
                continue;
            }
        };
        match csv_record(&columns, &row) {
            Ok(record) => list.members.push(record),
            Err(message) => list.unreadable(format!("line {line}: {message}")),
        }
    }
    Ok(list)
}

fn csv_record(columns: &[usize], row: &csv::StringRecord) -> Result<MemberRecord, String> {
    let mut r = MemberRecord::default();
    let tags = |v: &str| v.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
    for (column, value) in columns.iter().zip(row.iter()) {
        // An empty cell leaves the field out (as a missing key in JSON does).
        if value.is_empty() {
            continue;
        }
        let text = Some(value.to_owned());
        match COLUMNS[*column] {
            "externalId" => r.external_id = text,
            "email" => r.email = text,
            "fullName" => r.full_name = text,
            "countryCode" => r.country_code = text,
            "institution" => r.institution = text,
            "sector" => r.sector = text,
            "jobTitle" => r.job_title = text,
            "yearsExperience" => {
                r.years_experience =
                    Some(value.parse().map_err(|_| format!("yearsExperience {value:?} is not a number"))?);
            }
            "languages" => r.languages = Some(tags(value)),
            "interests" => r.interests = Some(tags(value)),
            _ => {
                r.active = Some(match value.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(format!("active {value:?} is not true or false")),
                });
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_keep_row_indexes_across_unreadable_lines() {
        let text = "{\"externalId\":\"a\"}\n\nnot json\n{\"externalId\":\"b\",\"active\":false}\n";
        let list = parse(text.as_bytes(), Format::JsonLines).expect("parses");
        assert_eq!(list.members.len(), 3);
        assert_eq!(list.unreadable.len(), 1);
        assert_eq!(list.unreadable[0].index, 1);
        assert!(list.unreadable[0].message.starts_with("line 3:"));
        assert_eq!(list.members[2].active, Some(false));
    }

    #[test]
    fn csv_reads_tags_and_flags_and_refuses_unknown_columns() {
        let text = "externalId,email,languages,active,yearsExperience\nm1,a@x.org,en; fr,no,4\nm2,,,,x\n";
        let list = parse(text.as_bytes(), Format::Csv).expect("parses");
        assert_eq!(list.members[0].languages, Some(vec!["en".to_owned(), "fr".to_owned()]));
        assert_eq!(list.members[0].active, Some(false));
        assert_eq!(list.members[0].years_experience, Some(4));
        assert_eq!(list.unreadable.len(), 1);
        assert_eq!(list.unreadable[0].index, 1);
        assert!(parse(b"externalId,shoeSize\n", Format::Csv).is_err());
        assert!(parse(b"email\n", Format::Csv).is_err());
    }
}
