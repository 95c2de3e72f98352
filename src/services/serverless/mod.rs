//! Code the internet can call without any network path of the account's own: Lambda function URLs and
//! resource policies, and API Gateway APIs.

pub mod api_gateway;
pub mod lambda;
