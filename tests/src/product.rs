//! The whole product on ephemeral ports: the one-process mesh with Redis,
//! a Bot API double and a Stripe double, wired as in production.

use std::time::Duration;

use mesh::Target;
use mesh_proto::billing::v1::billing_service_client::BillingServiceClient;
use mesh_proto::billing::v1::{
    CreateCheckoutSessionRequest, CreateCheckoutSessionResponse, Entitlement, EntitlementState,
    GetEntitlementRequest,
};
use serde_json::Value;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::mesh::RunningMesh;
use crate::stripe_double::StripeDouble;
use crate::telegram::TelegramDouble;

/// The premium chat in tests.
pub const PREMIUM_CHAT: i64 = -100_123_456_789;
/// The admin in tests.
pub const ADMIN: i64 = 9000;
/// The prices of the repository's plans file.
pub const PRICES: &[&str] = &[
    "price_monthly_placeholder",
    "price_yearly_placeholder",
    "price_pass_placeholder",
    "price_tiered_placeholder",
    "price_decimal_placeholder",
];

/// Presents a bearer token (when set) on billing calls.
#[derive(Clone)]
pub struct Bearer(Option<String>);

impl Bearer {
    /// Presents `token` (or nothing).
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(|t| format!("Bearer {t}")))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = self.0.as_deref().and_then(|v| v.parse().ok()) {
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

/// A running product.
pub struct Product {
    /// The Bot API double.
    pub telegram: TelegramDouble,
    /// The Stripe double.
    pub stripe: StripeDouble,
    /// The mesh.
    pub mesh: RunningMesh,
    /// Its Redis key prefix.
    pub prefix: String,
    /// The admin token billing requires, if the test set one.
    pub token: Option<String>,
}

impl Product {
    /// Deletes every key of this product from Redis (a store wiped).
    pub async fn wipe(&self) {
        let client = redis::Client::open(crate::shared_redis_url()).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("KEYS");
        assert!(!keys.is_empty(), "nothing to wipe");
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .expect("DEL");
    }

    /// A Checkout session for `user` and `plan`, through billing.
    pub async fn checkout(&self, user: i64, plan: &str) -> CreateCheckoutSessionResponse {
        self.billing()
            .create_checkout_session(CreateCheckoutSessionRequest {
                telegram_user_id: user,
                plan_id: plan.into(),
                request_id: String::new(),
            })
            .await
            .expect("checkout session")
            .into_inner()
    }

    /// Subscribes `user` to the monthly plan the way a user does: a
    /// Checkout session through billing, paid at the Stripe double, its
    /// events delivered through the gateway; returns once access is active.
    pub async fn subscribe(&self, user: i64) {
        let session = self.checkout(user, "monthly").await;
        let events = self.stripe.complete_checkout(&session.session_id);
        self.stripe.deliver_all(&self.mesh.gateway, &events).await;
        self.wait_state(user, EntitlementState::Active).await;
    }

    /// Starts everything; `extra` overrides the defaults.
    pub async fn start(test: &str, extra: &[(&str, String)]) -> Self {
        let telegram = TelegramDouble::start().await;
        let stripe = StripeDouble::start(PRICES).await;
        let prefix = crate::unique_prefix(test);
        let mut vars = vec![
            ("REDIS_URL", crate::shared_redis_url()),
            ("REDIS_KEY_PREFIX", prefix.clone()),
            ("TELEGRAM_BOT_TOKEN", telegram.token.clone()),
            ("TELEGRAM_API_URL", telegram.url.clone()),
            ("TELEGRAM_BOT_USERNAME", "test_bot".to_owned()),
            ("PREMIUM_CHAT_ID", PREMIUM_CHAT.to_string()),
            ("ADMIN_USER_IDS", ADMIN.to_string()),
            // Fast per-chat spacing so flows don't wait a second per reply;
            // the throttle tests set the real limits.
            ("BOT_CHAT_SEND_INTERVAL_MS", "50".to_owned()),
            ("BOT_UPDATE_LEASE_MS", "2000".to_owned()),
        ];
        vars.extend(stripe.env());
        for (k, v) in extra {
            vars.retain(|(key, _)| key != k);
            vars.push((k, v.clone()));
        }
        let token = vars
            .iter()
            .find(|(k, _)| *k == "BILLING_ADMIN_TOKEN")
            .map(|(_, v)| v.clone());
        let mesh = RunningMesh::start(Target::All, &vars).await;
        Self {
            telegram,
            stripe,
            mesh,
            prefix,
            token,
        }
    }

    /// A billing.v1 client presenting no token.
    pub fn billing(&self) -> BillingServiceClient<Channel> {
        BillingServiceClient::new(mesh_proto::lazy_channel(&self.mesh.billing).expect("channel"))
    }

    /// A billing.v1 client presenting `token`.
    pub fn billing_as(
        &self,
        token: Option<&str>,
    ) -> BillingServiceClient<InterceptedService<Channel, Bearer>> {
        let channel = mesh_proto::lazy_channel(&self.mesh.billing).expect("channel");
        BillingServiceClient::with_interceptor(
            channel,
            Bearer(token.map(|t| format!("Bearer {t}"))),
        )
    }

    /// A user's entitlement.
    pub async fn entitlement(&self, user: i64) -> Entitlement {
        self.billing_as(self.token.as_deref())
            .get_entitlement(GetEntitlementRequest {
                telegram_user_id: user,
            })
            .await
            .expect("GetEntitlement")
            .into_inner()
            .entitlement
            .expect("entitlement")
    }

    /// Waits until a user's entitlement is in `state`.
    pub async fn wait_state(&self, user: i64, state: EntitlementState) -> Entitlement {
        crate::eventually(
            Duration::from_secs(10),
            &format!("user {user} in {state:?}"),
            || async {
                let e = self.entitlement(user).await;
                (e.state() == state).then_some(e)
            },
        )
        .await
    }

    /// Posts an update as Telegram does, expecting 200.
    pub async fn post(&self, update: &Value) {
        let (status, body) = crate::http::post_update(&self.mesh.gateway, update, None).await;
        assert_eq!(status, 200, "{body}");
    }

    /// An admin broadcast of `text` to everyone: drafted, then confirmed
    /// with its Send button (updates `update_id` and the next).
    pub async fn broadcast(&self, update_id: i64, text: &str) {
        let draft = crate::http::text_update(update_id, ADMIN, &format!("/broadcast {text}"));
        self.post(&draft).await;
        let tap = crate::http::callback_update(
            update_id + 1,
            ADMIN,
            &format!("cbq-broadcast-{update_id}"),
            "bcast:send",
        );
        self.post(&tap).await;
    }

    /// Waits for a Bot API call (successful or not) matching `pred`.
    pub async fn wait_call(
        &self,
        what: &str,
        pred: impl Fn(&crate::telegram::Call) -> bool,
    ) -> crate::telegram::Call {
        crate::eventually(Duration::from_secs(10), what, || async {
            self.telegram.calls().into_iter().find(|c| pred(c))
        })
        .await
    }

    /// Waits for a message to `chat` whose text contains `needle`.
    pub async fn wait_message(&self, chat: i64, needle: &str) -> Value {
        self.wait_call(&format!("a message to {chat} containing {needle:?}"), |c| {
            c.ok && c.method == "sendMessage"
                && c.params["chat_id"] == chat
                && c.params["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(needle))
        })
        .await
        .params
    }

    /// The parameters of successful Bot API calls of `method` about `user`
    /// (as `user_id` or `chat_id`).
    pub fn successful_for(&self, method: &str, user: i64) -> Vec<Value> {
        self.telegram
            .successful(method)
            .into_iter()
            .filter(|c| c.params["user_id"] == user || c.params["chat_id"] == user)
            .map(|c| c.params)
            .collect()
    }

    /// Invite links made for `user` (named `tg<user>`), in any chat.
    pub fn invites(&self, user: i64) -> usize {
        self.telegram
            .successful("createChatInviteLink")
            .iter()
            .filter(|c| c.params["name"] == format!("tg{user}"))
            .count()
    }

    /// Stops the mesh.
    pub async fn stop(self) {
        self.mesh.stop().await.expect("clean stop");
    }
}

/// The URL buttons of a sent message.
pub fn url_buttons(params: &Value) -> Vec<String> {
    params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["url"].as_str().map(str::to_owned))
        .collect()
}

/// The labels of a sent message's buttons.
pub fn button_labels(params: &Value) -> Vec<String> {
    params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["text"].as_str().map(str::to_owned))
        .collect()
}

/// The callback data of a sent message's buttons.
pub fn callback_buttons(params: &Value) -> Vec<String> {
    params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["callback_data"].as_str().map(str::to_owned))
        .collect()
}
