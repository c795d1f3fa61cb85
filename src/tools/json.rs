//! [`Json`]: a tool's structured result, encoded once.
//!
//! A result is sent twice, as `structuredContent` and as the same JSON in a
//! text block for older clients. Encoding it (a JSON value tree, then its
//! text) costs more than most tools' own work, so when an op hands back a
//! memoized result (the same `Arc` as for the previous call), the previous
//! encoding is reused. The macros read this type's name: the output schema
//! is derived from `T`, as for rmcp's own `Json`.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult};
use schemars::JsonSchema;
use serde::Serialize;

/// A tool's structured result.
pub struct Json<T>(pub Arc<T>);

impl<T> Json<T> {
    /// A result computed for this call.
    pub fn new(value: T) -> Self {
        Json(Arc::new(value))
    }
}

impl<T: JsonSchema> JsonSchema for Json<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// The last encoding per result type, with the result it encodes (kept
/// alive so that its address identifies it).
type Encoded = (Arc<dyn Any + Send + Sync>, CallToolResult);

static LAST: LazyLock<Mutex<HashMap<TypeId, Encoded>>> = LazyLock::new(Default::default);

impl<T: Serialize + Send + Sync + 'static> IntoCallToolResult for Json<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let id = TypeId::of::<T>();
        if let Ok(last) = LAST.lock()
            && let Some((value, result)) = last.get(&id)
            && value
                .clone()
                .downcast::<T>()
                .is_ok_and(|v| Arc::ptr_eq(&v, &self.0))
        {
            return Ok(result.clone().into());
        }
        let value = serde_json::to_value(&*self.0).map_err(|e| {
            rmcp::ErrorData::internal_error(format!("cannot encode the result: {e}"), None)
        })?;
        let result = CallToolResult::structured(value);
        // Only results that can come back (shared with a memo) are kept.
        if Arc::strong_count(&self.0) > 1
            && let Ok(mut last) = LAST.lock()
        {
            last.insert(id, (self.0, result.clone()));
        }
        Ok(result.into())
    }
}
