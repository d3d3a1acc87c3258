//! Arrow format strings: the one a field exports as, and readable names for the ones an
//! importer meets.

use crate::dtype::{DType, Field};

/// The Arrow format string of a field's values (for a category: of its dictionary's values).
pub fn format(field: &Field) -> String {
    match field.dtype {
        DType::Datetime => format!("tsu:{}", field.tz.as_deref().unwrap_or("")),
        DType::Category => "u".into(),
        other => fixed_format(other).into(),
    }
}

pub(super) fn fixed_format(dtype: DType) -> &'static str {
    match dtype {
        DType::F64 => "g",
        DType::F32 => "f",
        DType::I8 => "c",
        DType::I16 => "s",
        DType::I32 => "i",
        DType::I64 => "l",
        DType::U8 => "C",
        DType::U16 => "S",
        DType::U32 => "I",
        DType::U64 => "L",
        DType::Bool => "b",
        DType::Str | DType::Category => "u",
        DType::Bytes => "z",
        DType::Datetime => "tsu:",
        DType::Date => "tdD",
        DType::Timedelta => "tDu",
    }
}

/// A readable name for an Arrow format string.
pub fn format_name(fmt: &str) -> String {
    let name = match fmt {
        "g" => "float64",
        "f" => "float32",
        "e" => "float16",
        "c" => "int8",
        "s" => "int16",
        "i" => "int32",
        "l" => "int64",
        "C" => "uint8",
        "S" => "uint16",
        "I" => "uint32",
        "L" => "uint64",
        "b" => "bool",
        "u" => "utf8",
        "U" => "large_utf8",
        "vu" => "utf8_view",
        "z" => "binary",
        "Z" => "large_binary",
        "vz" => "binary_view",
        "tdD" => "date32",
        "n" => "null",
        _ if fmt.starts_with("ts") => "timestamp",
        _ if fmt.starts_with("tD") => "duration",
        _ => return format!("{fmt:?}"),
    };
    format!("{name} ({fmt:?})")
}

/// What a field is called in messages: `str`, `datetime[UTC]`, `category of 3`.
pub(super) fn field_type_name(field: &Field) -> String {
    let mut name = field.dtype.name().to_owned();
    if let Some(tz) = &field.tz {
        name = format!("{name} in {tz}");
    }
    if field.nullable {
        name += " | None";
    }
    name
}

/// How a temporal Arrow unit converts to the field's unit: multiply or divide by this.
pub(super) fn unit_factor(unit: &str) -> Option<(bool, i64)> {
    Some(match unit {
        "s" => (true, 1_000_000),
        "m" => (true, 1_000),
        "u" => (true, 1),
        "n" => (false, 1_000),
        _ => return None,
    })
}
