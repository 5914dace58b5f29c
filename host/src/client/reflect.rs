//! The reflection documents as owned Rust values: what `__describe_service`,
//! `__describe_functions` and `__describe_custom_types` return, shaped as ReflectRPC 0.7.6
//! shapes them (reflex servers and ReflectRPC servers alike).
//!
//! Every field defaults when a server leaves it out, so partial descriptions (a minimal
//! foreign server) still parse. The types serialize back to the same JSON shape, which makes
//! them suitable for shells and documentation generators.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The result of `__describe_service`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceInfo {
    /// The service's name (`""` when the server set none).
    pub name: String,
    /// What the service does.
    pub description: String,
    /// The service's version.
    pub version: String,
    /// Any further fields the service publishes, passed through as sent.
    pub custom_fields: Map<String, Value>,
}

/// One entry of `__describe_functions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionInfo {
    /// The method name (`echo`, `led.set`, ...).
    pub name: String,
    /// What the function does.
    pub description: String,
    /// The result's type name (`int`, `array<int>`, `PhoneType`, `hash`, ...).
    pub result_type: String,
    /// What the result means.
    pub result_desc: String,
    /// The parameters, in positional order.
    pub params: Vec<ParamInfo>,
}

impl FunctionInfo {
    /// `name(a, b)`, the way ReflectRPC's shell lists a function.
    pub fn signature(&self) -> String {
        let params: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

/// One parameter of a [`FunctionInfo`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParamInfo {
    /// The parameter's name (also its key for named parameters).
    pub name: String,
    /// What it means.
    pub description: String,
    /// Its type name (`int`, `string`, `array<int>`, `Address`, ...); the JSON key is `type`.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// One entry of `__describe_custom_types`: an enum or a named hash, told apart by the `type`
/// key (`"enum"` or `"hash"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CustomType {
    /// An enumeration: values by name or integer.
    Enum {
        /// The type's name (`PhoneType`).
        #[serde(default)]
        name: String,
        /// What it means.
        #[serde(default)]
        description: String,
        /// The values, in declaration order.
        #[serde(default)]
        values: Vec<EnumValueInfo>,
    },
    /// A named hash: an object with declared, typed fields.
    Hash {
        /// The type's name (`Address`).
        #[serde(default)]
        name: String,
        /// What it means.
        #[serde(default)]
        description: String,
        /// The fields, in declaration order.
        #[serde(default)]
        fields: Vec<FieldInfo>,
    },
}

impl CustomType {
    /// The type's name.
    pub fn name(&self) -> &str {
        match self {
            CustomType::Enum { name, .. } | CustomType::Hash { name, .. } => name,
        }
    }

    /// The type's description.
    pub fn description(&self) -> &str {
        match self {
            CustomType::Enum { description, .. } | CustomType::Hash { description, .. } => description,
        }
    }
}

/// One value of a [`CustomType::Enum`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnumValueInfo {
    /// The value's name (`HOME`), accepted on the wire.
    pub name: String,
    /// What it means.
    pub description: String,
    /// The value's integer, also accepted on the wire.
    pub intvalue: i64,
}

/// One field of a [`CustomType::Hash`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldInfo {
    /// The field's key.
    pub name: String,
    /// Its type name; the JSON key is `type`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// What it means.
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_reflectrpc_documents() {
        let types: Vec<CustomType> = serde_json::from_value(json!([
            {"name": "PhoneType", "type": "enum", "description": "Type of a phone number",
             "values": [{"name": "HOME", "description": "Home phone", "intvalue": 0}]},
            {"name": "Address", "type": "hash", "description": "Street address",
             "fields": [{"name": "firstname", "type": "string", "description": "First name"}]}
        ]))
        .expect("custom types");
        assert!(matches!(&types[0], CustomType::Enum { values, .. } if values[0].name == "HOME"));
        assert!(matches!(&types[1], CustomType::Hash { fields, .. } if fields[0].type_name == "string"));
        assert_eq!(serde_json::to_value(&types[1]).expect("serializes")["type"], "hash");

        let f: FunctionInfo = serde_json::from_value(json!({"name": "add", "params": [{"name": "a", "type": "int"}]}))
            .expect("partial function");
        assert_eq!(f.signature(), "add(a)");
        assert_eq!(f.params[0].type_name, "int");
    }
}
