// Conformance: attested nodes, join tokens, bundles, the CA journal and the audit log.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/common/base64.h"
#include "src/server/datastore/datastore_conformance_test.h"
#include "src/spiffe/bundle.h"

namespace signet::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

AttestedNode MakeNode(const std::string& name) {
  return {.spiffe_id = "spiffe://example.org/agent/" + name,
          .attestation_type = "join_token",
          .cert_serial = "0a1b2c",
          .cert_not_after = ::signet::testing::TestNow() + absl::Hours(1)};
}

TEST_P(DataStoreConformanceTest, NodeLifecycle) {
  AttestedNode in = MakeNode("n1");
  in.selectors = Selectors({"tpm:pcr:1", "k8s:node:a"});
  SIGNET_ASSERT_OK_AND_ASSIGN(AttestedNode created, store_->CreateNode(in));
  EXPECT_EQ(created.created_at, ::signet::testing::TestNow());
  EXPECT_EQ(created.updated_at, ::signet::testing::TestNow());
  EXPECT_EQ(created.selectors, Selectors({"k8s:node:a", "tpm:pcr:1"}));
  EXPECT_EQ(*store_->GetNode(in.spiffe_id), created);
  EXPECT_THAT(store_->CreateNode(in), StatusIs(absl::StatusCode::kAlreadyExists, "n1"));

  clock_.Advance(absl::Minutes(5));
  AttestedNode change = created;
  change.cert_serial = "ff";
  change.can_reattest = true;
  change.banned = true;                 // ignored by UpdateNode
  change.attestation_type = "x509pop";  // ignored too
  change.selectors = {};
  SIGNET_ASSERT_OK_AND_ASSIGN(AttestedNode updated, store_->UpdateNode(change));
  EXPECT_EQ(updated.cert_serial, "ff");
  EXPECT_TRUE(updated.can_reattest);
  EXPECT_FALSE(updated.banned);
  EXPECT_EQ(updated.attestation_type, "join_token");
  EXPECT_THAT(updated.selectors, IsEmpty());
  EXPECT_EQ(updated.created_at, created.created_at);
  EXPECT_EQ(updated.updated_at, ::signet::testing::TestNow() + absl::Minutes(5));
  EXPECT_EQ(*store_->GetNode(in.spiffe_id), updated);

  SIGNET_ASSERT_OK_AND_ASSIGN(AttestedNode banned, store_->SetNodeBanned(in.spiffe_id, true));
  EXPECT_TRUE(banned.banned);
  EXPECT_TRUE(store_->GetNode(in.spiffe_id)->banned);
  SIGNET_ASSERT_OK(store_->SetNodeBanned(in.spiffe_id, false));
  EXPECT_FALSE(store_->GetNode(in.spiffe_id)->banned);

  SIGNET_ASSERT_OK_AND_ASSIGN(AttestedNode deleted, store_->DeleteNode(in.spiffe_id));
  EXPECT_EQ(deleted.spiffe_id, in.spiffe_id);
  EXPECT_THAT(store_->GetNode(in.spiffe_id), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(store_->DeleteNode(in.spiffe_id), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(store_->UpdateNode(in), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(store_->SetNodeBanned(in.spiffe_id, true), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_P(DataStoreConformanceTest, NodeValidation) {
  AttestedNode bad_id = MakeNode("x");
  bad_id.spiffe_id = "spiffe://example.org/../x";
  EXPECT_THAT(store_->CreateNode(bad_id),
              StatusIs(absl::StatusCode::kInvalidArgument, "spiffe_id"));
  AttestedNode no_type = MakeNode("x");
  no_type.attestation_type = "";
  EXPECT_THAT(store_->CreateNode(no_type),
              StatusIs(absl::StatusCode::kInvalidArgument, "attestation_type"));
  AttestedNode bad_serial = MakeNode("x");
  bad_serial.cert_serial = "xyz";
  EXPECT_THAT(store_->CreateNode(bad_serial),
              StatusIs(absl::StatusCode::kInvalidArgument, "cert_serial"));
  EXPECT_THAT(store_->GetNode("nope"), StatusIs(absl::StatusCode::kInvalidArgument, "spiffe_id"));
}

TEST_P(DataStoreConformanceTest, ListNodesPages) {
  for (int i = 0; i < 12; ++i) {
    SIGNET_ASSERT_OK(store_->CreateNode(MakeNode(absl::StrCat("n", 100 + i))));
  }
  std::vector<std::string> ids;
  std::string token;
  do {
    SIGNET_ASSERT_OK_AND_ASSIGN(NodePage page, store_->ListNodes(token, 5));
    for (const AttestedNode& n : page.nodes) {
      ids.push_back(n.spiffe_id);
    }
    token = page.next_page_token;
  } while (!token.empty());
  ASSERT_EQ(ids.size(), 12u);
  EXPECT_EQ(ids.front(), "spiffe://example.org/agent/n100");
  EXPECT_EQ(ids.back(), "spiffe://example.org/agent/n111");
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_THAT(store_->ListNodes("garbage", 5),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_THAT(store_->ListNodes(Base64UrlEncode("v1:e:abc"), 5),
              StatusIs(absl::StatusCode::kInvalidArgument, "page_token"));
  EXPECT_THAT(store_->ListNodes("", 0), StatusIs(absl::StatusCode::kInvalidArgument, "page_size"));
}

TEST_P(DataStoreConformanceTest, JoinTokens) {
  const absl::Time now = clock_.Now();
  SIGNET_ASSERT_OK(store_->CreateJoinToken({.token = "token-aaaaaaaaaaaaaaaa",
                                            .spiffe_id = "spiffe://example.org/agent/a",
                                            .expires_at = now + absl::Hours(1)}));
  EXPECT_THAT(store_->CreateJoinToken(
                  {.token = "token-aaaaaaaaaaaaaaaa", .expires_at = now + absl::Hours(1)}),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
  SIGNET_ASSERT_OK_AND_ASSIGN(JoinToken consumed,
                              store_->ConsumeJoinToken("token-aaaaaaaaaaaaaaaa", now));
  EXPECT_EQ(consumed.spiffe_id, "spiffe://example.org/agent/a");
  EXPECT_EQ(consumed.expires_at, now + absl::Hours(1));
  EXPECT_EQ(consumed.created_at, now);
  EXPECT_THAT(store_->ConsumeJoinToken("token-aaaaaaaaaaaaaaaa", now),
              StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(store_->ConsumeJoinToken("short", now), StatusIs(absl::StatusCode::kNotFound, ""));

  // An expired token fails once with FailedPrecondition and is gone afterwards.
  SIGNET_ASSERT_OK(store_->CreateJoinToken(
      {.token = "token-bbbbbbbbbbbbbbbb", .expires_at = now + absl::Minutes(1)}));
  EXPECT_THAT(store_->ConsumeJoinToken("token-bbbbbbbbbbbbbbbb", now + absl::Minutes(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "expired"));
  EXPECT_THAT(store_->ConsumeJoinToken("token-bbbbbbbbbbbbbbbb", now),
              StatusIs(absl::StatusCode::kNotFound, ""));

  // Pruning removes exactly the expired ones.
  for (int i = 0; i < 3; ++i) {
    SIGNET_ASSERT_OK(store_->CreateJoinToken(
        {.token = absl::StrCat("token-cccccccccccccc-", i), .expires_at = now + absl::Minutes(i)}));
  }
  SIGNET_ASSERT_OK_AND_ASSIGN(int64_t pruned, store_->PruneJoinTokens(now + absl::Seconds(90)));
  EXPECT_EQ(pruned, 2);
  SIGNET_ASSERT_OK(store_->ConsumeJoinToken("token-cccccccccccccc-2", now));

  EXPECT_THAT(store_->CreateJoinToken({.token = "short", .expires_at = now + absl::Hours(1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, "token"));
  EXPECT_THAT(store_->CreateJoinToken({.token = "token-dddddddddddddddd"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "expires_at"));
  EXPECT_THAT(store_->CreateJoinToken({.token = "token-dddddddddddddddd",
                                       .spiffe_id = "bad",
                                       .expires_at = now + absl::Hours(1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, "spiffe_id"));
}

TEST_P(DataStoreConformanceTest, Bundles) {
  const std::string a = BundleJsonFor("a.org");
  const std::string b = BundleJsonFor("b.org");
  SIGNET_ASSERT_OK(store_->SetBundle({.trust_domain = "b.org", .spiffe_json = b}));
  SIGNET_ASSERT_OK(store_->SetBundle({.trust_domain = "a.org", .spiffe_json = b}));
  clock_.Advance(absl::Minutes(1));
  SIGNET_ASSERT_OK(store_->SetBundle({.trust_domain = "a.org", .spiffe_json = a}));  // replaces
  SIGNET_ASSERT_OK_AND_ASSIGN(StoredBundle got, store_->GetBundle("a.org"));
  EXPECT_EQ(got.spiffe_json, a);
  EXPECT_EQ(got.updated_at, ::signet::testing::TestNow() + absl::Minutes(1));
  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<StoredBundle> all, store_->ListBundles());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].trust_domain, "a.org");
  EXPECT_EQ(all[1].trust_domain, "b.org");
  SIGNET_ASSERT_OK(store_->DeleteBundle("b.org"));
  EXPECT_THAT(store_->GetBundle("b.org"), StatusIs(absl::StatusCode::kNotFound, "b.org"));
  EXPECT_THAT(store_->DeleteBundle("b.org"), StatusIs(absl::StatusCode::kNotFound, ""));

  EXPECT_THAT(store_->SetBundle({.trust_domain = "c.org", .spiffe_json = "{\"keys\": 1}"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "spiffe_json"));
  EXPECT_THAT(store_->SetBundle({.trust_domain = "C.org", .spiffe_json = a}),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_domain"));
  EXPECT_THAT(store_->GetBundle("c.org"), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(store_->GetBundle("spiffe://c.org/x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "trust_domain"));
  EXPECT_THAT(store_->DeleteBundle(""), StatusIs(absl::StatusCode::kInvalidArgument, ""));
}

TEST_P(DataStoreConformanceTest, CaJournal) {
  CaKeyRecord x1{.key_id = "x509-1",
                 .kind = CaKeyKind::kX509,
                 .state = CaSlotState::kActive,
                 .key_type = "ec-p256",
                 .public_der = std::string("\x30\x82\x00\x01\xff", 5),
                 .not_before = clock_.Now(),
                 .not_after = clock_.Now() + absl::Hours(24)};
  CaKeyRecord x2 = x1;
  x2.key_id = "x509-2";
  x2.state = CaSlotState::kPrepared;
  x2.not_before = absl::InfinitePast();
  x2.not_after = absl::InfinitePast();
  CaKeyRecord j1{
      .key_id = "jwt-1", .kind = CaKeyKind::kJwt, .key_type = "rsa-2048", .public_der = "spki"};
  SIGNET_ASSERT_OK(store_->PutCaKey(x1));
  SIGNET_ASSERT_OK(store_->PutCaKey(x2));
  SIGNET_ASSERT_OK(store_->PutCaKey(j1));
  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<CaKeyRecord> x509, store_->ListCaKeys(CaKeyKind::kX509));
  x1.updated_at = x2.updated_at = j1.updated_at = clock_.Now();
  EXPECT_THAT(x509, ElementsAre(x1, x2));
  EXPECT_THAT(*store_->ListCaKeys(CaKeyKind::kJwt), ElementsAre(j1));

  x2.state = CaSlotState::kActive;  // PutCaKey replaces
  x1.state = CaSlotState::kOld;
  SIGNET_ASSERT_OK(store_->PutCaKey(x2));
  SIGNET_ASSERT_OK(store_->PutCaKey(x1));
  EXPECT_THAT(*store_->ListCaKeys(CaKeyKind::kX509), ElementsAre(x1, x2));
  SIGNET_ASSERT_OK(store_->DeleteCaKey("x509-1"));
  EXPECT_THAT(*store_->ListCaKeys(CaKeyKind::kX509), ElementsAre(x2));
  EXPECT_THAT(store_->DeleteCaKey("x509-1"), StatusIs(absl::StatusCode::kNotFound, ""));

  CaKeyRecord bad = x1;
  bad.key_type = "dsa";
  EXPECT_THAT(store_->PutCaKey(bad), StatusIs(absl::StatusCode::kInvalidArgument, "key_type"));
  bad = x1;
  bad.public_der.clear();
  EXPECT_THAT(store_->PutCaKey(bad), StatusIs(absl::StatusCode::kInvalidArgument, "public_der"));
  bad = x1;
  bad.not_after = bad.not_before;
  EXPECT_THAT(store_->PutCaKey(bad), StatusIs(absl::StatusCode::kInvalidArgument, "not_after"));
}

TEST_P(DataStoreConformanceTest, AuditLog) {
  const absl::Time t0 = clock_.Now();
  for (int i = 0; i < 6; ++i) {
    SIGNET_ASSERT_OK(store_->AppendAudit({.time = t0 + absl::Minutes(i),
                                          .caller = i % 2 == 0 ? "uid:1000" : "spiffe://x.org/a",
                                          .action = "entry.create",
                                          .target = absl::StrCat("target-", i),
                                          .result = "ok",
                                          .detail = "d"}));
  }
  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> all, store_->ListAudit({}));
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GT(all[i].id, all[i - 1].id);
  }
  EXPECT_EQ(all[2].time, t0 + absl::Minutes(2));
  EXPECT_EQ(all[2].target, "target-2");

  EXPECT_EQ(store_->ListAudit({.since = t0 + absl::Minutes(4)})->size(), 2u);
  EXPECT_EQ(store_->ListAudit({.spiffe_id = "spiffe://x.org/a"})->size(), 3u);
  EXPECT_EQ(store_->ListAudit({.spiffe_id = "target-3"})->size(), 1u);
  SIGNET_ASSERT_OK_AND_ASSIGN(std::vector<AuditEvent> page,
                              store_->ListAudit({.after_id = all[1].id, .limit = 2}));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, all[2].id);
  EXPECT_EQ(page[1].id, all[3].id);

  EXPECT_THAT(store_->ListAudit({.limit = 0}), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(store_->AppendAudit({.time = t0, .action = "", .result = "ok"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "action"));
  EXPECT_THAT(store_->AppendAudit({.action = "x", .result = "ok"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "time"));
}

}  // namespace
}  // namespace signet::server::testing
