//! The leaky account's database: a PostgreSQL instance reachable from the internet.

use super::SeedResult;

/// Creates a publicly accessible RDS instance and returns its identifier.
pub async fn seed(rds: &aws_sdk_rds::Client) -> SeedResult<String> {
    let out = rds
        .create_db_instance()
        .db_instance_identifier("orders-db")
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("orders")
        .master_user_password("not-a-real-password-1")
        .publicly_accessible(true)
        .send()
        .await?;
    Ok(out
        .db_instance()
        .and_then(|i| i.db_instance_identifier())
        .unwrap_or_default()
        .to_string())
}
