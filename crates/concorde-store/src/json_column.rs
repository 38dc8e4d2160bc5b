//! Typed values kept in TEXT columns (one schema for both backends), parsed once as a row is
//! read so that callers get typed values (`serde_json::Value`, version maps, `check_every`),
//! never text to parse again. A row whose JSON does not parse fails to decode: corruption is an
//! error, not an empty value.

use concorde_config::model::{CheckEvery, JsonMap, VersionMap};
use serde::de::DeserializeOwned;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type, ValueRef};

/// A TEXT column read as JSON into `T`; a NULL reads as JSON `null` (so `T = Option<_>` gives
/// `None`). Fields name it in `#[sqlx(try_from = "JsonColumn<T>")]`.
pub(crate) struct JsonColumn<T>(T);

/// Declares a column type whose SQL type is TEXT on both backends.
macro_rules! text_column {
    ($column:ident $(<$param:ident>)?) => {
        impl<DB: Database $(, $param)?> Type<DB> for $column $(<$param>)?
        where
            String: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as Type<DB>>::compatible(ty)
            }
        }
    };
}

text_column!(JsonColumn<T>);

impl<'r, DB: Database, T: DeserializeOwned> Decode<'r, DB> for JsonColumn<T>
where
    String: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(JsonColumn(serde_json::from_str("null")?));
        }
        let text = <String as Decode<'r, DB>>::decode(value)?;
        Ok(JsonColumn(serde_json::from_str(&text)?))
    }
}

/// Lets `#[sqlx(try_from = "JsonColumn<T>")]` hand the parsed value to a field of type `T`.
macro_rules! json_fields {
    ($($field:ty),* $(,)?) => {$(
        impl From<JsonColumn<$field>> for $field {
            fn from(column: JsonColumn<$field>) -> Self {
                column.0
            }
        }
    )*};
}

json_fields!(
    serde_json::Value,
    Option<serde_json::Value>,
    Option<JsonMap>,
    VersionMap,
    Option<VersionMap>,
);

/// A nullable TEXT column holding `check_every` as written. Fields name it in
/// `#[sqlx(try_from = "CheckEveryColumn")]`.
pub(crate) struct CheckEveryColumn(Option<String>);

text_column!(CheckEveryColumn);

impl<'r, DB: Database> Decode<'r, DB> for CheckEveryColumn
where
    String: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(CheckEveryColumn(None));
        }
        Ok(CheckEveryColumn(Some(<String as Decode<'r, DB>>::decode(
            value,
        )?)))
    }
}

impl From<CheckEveryColumn> for Option<CheckEvery> {
    fn from(column: CheckEveryColumn) -> Self {
        column.0.map(CheckEvery::from_text)
    }
}
