//! Secret values that redact themselves: `Debug` and `Display` print `[redacted]`.
//!
//! None of these types implements `PartialEq`; compare with [`crate::crypto::constant_time_eq`].

macro_rules! secret_string {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself, for the one place that must send or hash it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_string!(
    /// An OAuth client secret from the configuration.
    ClientSecret
);
secret_string!(
    /// A provider access token.
    AccessToken
);
secret_string!(
    /// A provider refresh token.
    RefreshToken
);
secret_string!(
    /// A raw id_token (JWT) as the provider sent it.
    IdToken
);
secret_string!(
    /// An authorization code from the provider.
    AuthCode
);
secret_string!(
    /// The OAuth `state` value.
    State
);
secret_string!(
    /// A PKCE code verifier.
    CodeVerifier
);
secret_string!(
    /// An OpenID Connect nonce.
    Nonce
);
secret_string!(
    /// The opaque session id held by the browser cookie or the mobile app.
    SessionId
);
secret_string!(
    /// The random value of the login-transaction cookie that binds a login to one browser.
    BrowserBinding
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let secret = RefreshToken::new("rt-very-secret-value");
        assert_eq!(format!("{secret:?}"), "RefreshToken([redacted])");
        assert_eq!(format!("{secret}"), "[redacted]");
        let nested = Some(ClientSecret::new("cs-very-secret-value"));
        assert!(!format!("{nested:?}").contains("very-secret"));
        assert_eq!(secret.expose(), "rt-very-secret-value");
    }
}
