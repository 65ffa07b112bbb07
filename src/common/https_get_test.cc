#include "src/common/https_get.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/https_server.h"
#include "tests/testing/test_ca.h"

namespace signet {
namespace {

using ::testing::HasSubstr;

TEST(ParseHttpsUrlTest, AcceptsHostPortAndPath) {
  absl::StatusOr<HttpsUrl> url = ParseHttpsUrl("https://issuer.example.com/.well-known/jwks.json");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "issuer.example.com");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "/.well-known/jwks.json");

  url = ParseHttpsUrl("https://[::1]:8443");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path, "/");

  url = ParseHttpsUrl("HTTPS://127.0.0.1:1?x=1");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->path, "/?x=1");
}

TEST(ParseHttpsUrlTest, RefusesWhatIsNotAPlainHttpsUrl) {
  for (const char* bad :
       {"http://example.com/", "example.com", "https://", "https://:443/", "https://host:/",
        "https://host:0/", "https://host:65536/", "https://host:x/", "https://user@host/",
        "https://host/a#frag", "https://host/a b", "https://[::1/", "https://[::1]x/",
        "https://ho\nst/", "ftp://host/"}) {
    absl::StatusOr<HttpsUrl> url = ParseHttpsUrl(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(url.status())) << bad << " -> " << url.status();
  }
}

class HttpsGetTest : public ::testing::Test {
 protected:
  HttpsGetTest() {
    testing::WriteTestFile(root_.File("keys.json"), R"({"keys":[]})");
    testing::WriteTestFile(root_.File("big.json"), std::string(5000, 'x'));
    server_ = std::make_unique<testing::TestHttpsServer>(root_.path());
  }

  testing::TempDir root_;
  std::unique_ptr<testing::TestHttpsServer> server_;
};

TEST_F(HttpsGetTest, FetchesFromAServerItTrusts) {
  absl::StatusOr<std::string> body =
      HttpsGet(server_->Url("keys.json"), {.ca_path = server_->ca_path()});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, R"({"keys":[]})");
}

TEST_F(HttpsGetTest, RefusesAServerItDoesNotTrust) {
  // The system store does not hold the test server's self-signed certificate.
  absl::StatusOr<std::string> body = HttpsGet(server_->Url("keys.json"), {});
  EXPECT_TRUE(absl::IsUnavailable(body.status())) << body.status();
  EXPECT_THAT(body.status().message(), HasSubstr("GET https://127.0.0.1:"));
  EXPECT_THAT(std::string(body.status().message()),
              HasSubstr("the server certificate does not verify: self-signed"));
}

TEST_F(HttpsGetTest, RefusesAHostTheCertificateDoesNotName) {
  // The certificate names 127.0.0.1 only; "localhost" reaches the same server.
  const std::string url = "https://localhost:" + std::to_string(server_->port()) + "/keys.json";
  absl::StatusOr<std::string> body = HttpsGet(url, {.ca_path = server_->ca_path()});
  EXPECT_TRUE(absl::IsUnavailable(body.status())) << body.status();
  EXPECT_THAT(std::string(body.status().message()),
              HasSubstr("the server certificate does not name localhost"));
}

TEST_F(HttpsGetTest, ReportsStatusesOtherThan200) {
  absl::StatusOr<std::string> body =
      HttpsGet(server_->Url("missing.json"), {.ca_path = server_->ca_path()});
  EXPECT_TRUE(absl::IsUnavailable(body.status())) << body.status();
  EXPECT_THAT(body.status().message(), HasSubstr("HTTP status 404"));
}

TEST_F(HttpsGetTest, StopsAtTheSizeLimit) {
  absl::StatusOr<std::string> body =
      HttpsGet(server_->Url("big.json"), {.ca_path = server_->ca_path(), .max_bytes = 4096});
  EXPECT_TRUE(absl::IsUnavailable(body.status())) << body.status();
  EXPECT_THAT(body.status().message(), HasSubstr("larger than 4096 bytes"));
  body = HttpsGet(server_->Url("big.json"), {.ca_path = server_->ca_path(), .max_bytes = 5000});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->size(), 5000u);
}

TEST_F(HttpsGetTest, ReportsAServerThatIsNotThere) {
  absl::StatusOr<std::string> body =
      HttpsGet("https://127.0.0.1:1/", {.timeout = absl::Seconds(2)});
  EXPECT_TRUE(absl::IsUnavailable(body.status())) << body.status();
  EXPECT_THAT(body.status().message(), HasSubstr("GET https://127.0.0.1:1/"));
}

}  // namespace
}  // namespace signet
