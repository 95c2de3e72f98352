//! The leaky account's Lambda side: `orders-export`, a function anyone can invoke through its public URL
//! (auth type NONE, and the resource-policy statement that goes with it) with reserved concurrency 5 and
//! an alias `live` whose own policy lets anyone invoke it, and `nightly-report`, a function with neither,
//! which only throttling touches.

use aws_config::SdkConfig;
use aws_sdk_lambda::types::{Cors, FunctionCode, FunctionUrlAuthType, Runtime};

use super::SeedResult;

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededServerless {
    /// The public function, then the private one.
    pub functions: Vec<String>,
    pub public_function: String,
    pub public_statement_id: String,
    pub function_url: String,
    /// The public function's alias, and its own public statement.
    pub alias: String,
    pub alias_statement_id: String,
}

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

const HANDLER_SOURCE: &[u8] =
    b"def handler(event, context):\n    return {'statusCode': 200, 'body': 'orders'}\n";

pub async fn seed(config: &SdkConfig) -> SeedResult<SeededServerless> {
    let iam = aws_sdk_iam::Client::new(config);
    let role = iam
        .create_role()
        .role_name("orders-export-runtime")
        .assume_role_policy_document(TRUST_POLICY)
        .send()
        .await?;
    let role_arn = role.role().map(|r| r.arn().to_string()).ok_or("no role")?;

    let lambda = aws_sdk_lambda::Client::new(config);
    let code = zip_one_file("index.py", HANDLER_SOURCE);
    for name in ["orders-export", "nightly-report"] {
        lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .role(&role_arn)
            .handler("index.handler")
            .code(
                FunctionCode::builder()
                    .zip_file(aws_smithy_types::Blob::new(code.clone()))
                    .build(),
            )
            .send()
            .await?;
    }
    let public = "orders-export".to_string();
    lambda
        .put_function_concurrency()
        .function_name(&public)
        .reserved_concurrent_executions(5)
        .send()
        .await?;
    let url = lambda
        .create_function_url_config()
        .function_name(&public)
        .auth_type(FunctionUrlAuthType::None)
        .cors(
            Cors::builder()
                .allow_origins("https://shop.leaky.example")
                .allow_methods("GET")
                .build(),
        )
        .send()
        .await?;
    let statement_id = "FunctionURLAllowPublicAccess".to_string();
    lambda
        .add_permission()
        .function_name(&public)
        .statement_id(&statement_id)
        .action("lambda:InvokeFunctionUrl")
        .principal("*")
        .function_url_auth_type(FunctionUrlAuthType::None)
        .send()
        .await?;
    let alias = "live".to_string();
    lambda
        .create_alias()
        .function_name(&public)
        .name(&alias)
        .function_version("$LATEST")
        .send()
        .await?;
    let alias_statement_id = "PublicInvokeLive".to_string();
    lambda
        .add_permission()
        .function_name(&public)
        .qualifier(&alias)
        .statement_id(&alias_statement_id)
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await?;
    Ok(SeededServerless {
        functions: vec![public.clone(), "nightly-report".into()],
        public_function: public,
        public_statement_id: statement_id,
        function_url: url.function_url().to_string(),
        alias,
        alias_statement_id,
    })
}

/// A zip archive holding one file, stored uncompressed: enough for a Lambda deployment package, without
/// a zip library.
pub fn zip_one_file(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let (size, name_len) = (data.len() as u32, name.len() as u16);
    let mut out = Vec::new();
    // Local file header.
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method 0, time, date
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let central_start = out.len() as u32;
    // Central directory entry.
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(&[0; 12]); // extra, comment, disk, internal attrs, external attrs
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name.as_bytes());
    let central_size = out.len() as u32 - central_start;
    // End of central directory.
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
