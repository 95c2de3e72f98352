//! The leaky account's identities: what an attacker with stolen credentials would hold. Two IAM users
//! with access keys (`ci-deploy` has two, as during a rotation, and an SSH key and an HTTPS Git password,
//! a service-specific credential, for CodeCommit; `mailer` has one, the kind of key SES SMTP passwords
//! are derived from, and a console password, as a person's user would) and a role an application runs as.

use super::SeedResult;

/// An access key as IAM issued it; the secret lets a test run hikkonuki as that user.
#[derive(Debug, Clone)]
pub struct SeededKey {
    pub user: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededIdentity {
    pub users: Vec<String>,
    /// `ci-deploy`'s two keys, then `mailer`'s.
    pub keys: Vec<SeededKey>,
    /// `ci-deploy`'s SSH public key ID.
    pub ssh_key_id: String,
    /// `ci-deploy`'s CodeCommit HTTPS Git credential (a service-specific credential) ID.
    pub service_credential_id: String,
    pub role: String,
}

/// A throwaway RSA public key (the emulator parses the body, so it must be a real one).
const SSH_PUBLIC_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDOkOgb3bdv39sNFIHQdZFwNWNqhAWc5TYjShV0QTxD8+J0bfoPpAukr6P4CZ2VY2nNOKse148S+XUefcQ3fvsFhN5yWruCLkgkmcys3Her2Fh/rluYqJwGJvlTvPb1YWjgb40H2MqVUeBqCXGWC+E9MAHc8D1ZxXMHrhthPaSrA3ERzYbxPsy3SIukihe9z5MqFeFrBmGNP+N8QyGqcZJvro0DCXgr7nOE/Gnmxw+CTbILqQIaraGCQzvQMmNc6PwshCRpv88UWYiX8bL3szsM3GAkYX3mdbikTcl3XXQ1RzOMfCFDg+0iIwzBAA69JD/ubDPUXec8sB5BmyJi5yc3 ci-deploy@build";

const APP_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Creates the users, keys, credentials and role (IAM is global: the config's region does not matter).
pub async fn seed(config: &aws_config::SdkConfig) -> SeedResult<SeededIdentity> {
    let iam = aws_sdk_iam::Client::new(config);
    let mut keys = Vec::new();
    for (user, count) in [("ci-deploy", 2), ("mailer", 1)] {
        iam.create_user().user_name(user).send().await?;
        for _ in 0..count {
            let out = iam.create_access_key().user_name(user).send().await?;
            let key = out.access_key().ok_or("CreateAccessKey returned no key")?;
            keys.push(SeededKey {
                user: user.to_string(),
                access_key_id: key.access_key_id().to_string(),
                secret_access_key: key.secret_access_key().to_string(),
            });
        }
    }
    // A console password: no key cut closes it (the `iam_console_password` finding).
    iam.create_login_profile()
        .user_name("mailer")
        .password("Leaky-Console-Passw0rd!")
        .send()
        .await?;
    let ssh = iam
        .upload_ssh_public_key()
        .user_name("ci-deploy")
        .ssh_public_key_body(SSH_PUBLIC_KEY)
        .send()
        .await?;
    let ssh_key_id = ssh
        .ssh_public_key()
        .map(|k| k.ssh_public_key_id().to_string())
        .ok_or("UploadSSHPublicKey returned no key")?;
    let git = iam
        .create_service_specific_credential()
        .user_name("ci-deploy")
        .service_name("codecommit.amazonaws.com")
        .send()
        .await?;
    let service_credential_id = git
        .service_specific_credential()
        .map(|c| c.service_specific_credential_id().to_string())
        .ok_or("CreateServiceSpecificCredential returned no credential")?;
    iam.create_role()
        .role_name("app-runtime")
        .assume_role_policy_document(APP_TRUST_POLICY)
        .send()
        .await?;
    Ok(SeededIdentity {
        users: vec!["ci-deploy".into(), "mailer".into()],
        keys,
        ssh_key_id,
        service_credential_id,
        role: "app-runtime".into(),
    })
}
