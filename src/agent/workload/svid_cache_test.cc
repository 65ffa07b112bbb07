#include "src/agent/workload/svid_cache.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "src/agent/workload/snapshot_stream.h"
#include "src/common/clock.h"

namespace signet::agent {
namespace {

namespace pb = ::signet::agent::v1;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

pb::Entry MakeEntry(const std::string& id, const std::string& spiffe_id,
                    std::vector<std::string> selectors, int64_t revision = 1) {
  pb::Entry e;
  e.set_id(id);
  e.set_spiffe_id(spiffe_id);
  e.set_revision(revision);
  for (const std::string& s : selectors) {
    pb::Selector* sel = e.add_selectors();
    sel->set_type(s.substr(0, s.find(':')));
    sel->set_value(s.substr(s.find(':') + 1));
  }
  return e;
}

std::vector<spiffe::Selector> Selectors(std::vector<std::string> texts) {
  std::vector<spiffe::Selector> out;
  for (const std::string& t : texts) out.push_back(*spiffe::Selector::Parse(t));
  spiffe::CanonicalizeSelectors(out);
  return out;
}

std::vector<std::string> Ids(const WorkloadView& v) {
  std::vector<std::string> ids;
  for (const auto& s : v.svids) ids.push_back(s->spiffe_id);
  return ids;
}

class SvidCacheTest : public ::testing::Test {
 protected:
  SvidCacheTest() : clock_(kNow), cache_(clock_) {}

  void Sync(std::vector<pb::Entry> entries) {
    std::map<std::string, pb::Entry> by_id;
    for (auto& e : entries) by_id[e.id()] = e;
    cache_.SetEntries(by_id);
    cache_.SetBundle(std::make_shared<const spiffe::Bundle>());
  }
  void Sign(const pb::Entry& e, absl::Duration ttl = absl::Hours(1)) {
    cache_.Put(e, {"leaf-" + e.id(), "ca"}, "key-" + e.id(), clock_.Now(), clock_.Now() + ttl);
  }

  FakeClock clock_;
  SvidCache cache_;
};

TEST_F(SvidCacheTest, NotReadyUntilSyncedAndBundled) {
  EXPECT_FALSE(cache_.For(Selectors({"unix:uid:1"})).ready);
  cache_.SetEntries({});
  EXPECT_FALSE(cache_.For(Selectors({"unix:uid:1"})).ready);
  cache_.SetBundle(std::make_shared<const spiffe::Bundle>());
  EXPECT_TRUE(cache_.For(Selectors({"unix:uid:1"})).ready);
}

TEST_F(SvidCacheTest, AnEntryMatchesWhenAllItsSelectorsArePresent) {
  pb::Entry web = MakeEntry("1", "spiffe://td/web", {"unix:uid:1", "unix:gid:2"});
  pb::Entry api = MakeEntry("2", "spiffe://td/api", {"unix:uid:1"});
  pb::Entry none = MakeEntry("3", "spiffe://td/none", {});
  Sync({web, api, none});
  Sign(web);
  Sign(api);
  Sign(none);
  // Sorted by SPIFFE ID: the first is the default identity.
  EXPECT_THAT(Ids(cache_.For(Selectors({"unix:uid:1", "unix:gid:2", "unix:user:x"}))),
              ElementsAre("spiffe://td/api", "spiffe://td/web"));
  EXPECT_THAT(Ids(cache_.For(Selectors({"unix:uid:1"}))), ElementsAre("spiffe://td/api"));
  WorkloadView nobody = cache_.For(Selectors({"unix:uid:7"}));
  EXPECT_EQ(nobody.entitled, 0) << "an entry without selectors matches nobody";
  EXPECT_THAT(nobody.svids, IsEmpty());
}

TEST_F(SvidCacheTest, DueListsUnsignedAndHalfLifeSvidsAndNeverServesExpiredOnes) {
  pb::Entry web = MakeEntry("1", "spiffe://td/web", {"unix:uid:1"});
  Sync({web});
  absl::Time next;
  ASSERT_EQ(cache_.Due(clock_.Now(), 10, &next).size(), 1u);
  Sign(web, absl::Seconds(100));
  EXPECT_THAT(cache_.Due(clock_.Now(), 10, &next), IsEmpty());
  EXPECT_GE(next, kNow + absl::Seconds(45));
  EXPECT_LE(next, kNow + absl::Seconds(55));
  clock_.Advance(absl::Seconds(56));
  EXPECT_EQ(cache_.Due(clock_.Now(), 10, &next).size(), 1u);
  EXPECT_EQ(cache_.For(Selectors({"unix:uid:1"})).svids.size(), 1u);
  clock_.Advance(absl::Seconds(45));  // past not_after, never renewed (server down)
  WorkloadView view = cache_.For(Selectors({"unix:uid:1"}));
  EXPECT_EQ(view.entitled, 1);
  EXPECT_THAT(view.svids, IsEmpty());
}

TEST_F(SvidCacheTest, AChangedOrDeletedEntryDropsItsSvid) {
  pb::Entry web = MakeEntry("1", "spiffe://td/web", {"unix:uid:1"});
  Sync({web});
  Sign(web);
  pb::Entry changed = MakeEntry("1", "spiffe://td/web2", {"unix:uid:1"}, 2);
  // A signature for the old revision that arrives late is ignored.
  Sync({changed});
  Sign(web);
  EXPECT_THAT(cache_.For(Selectors({"unix:uid:1"})).svids, IsEmpty());
  Sign(changed);
  EXPECT_THAT(Ids(cache_.For(Selectors({"unix:uid:1"}))), ElementsAre("spiffe://td/web2"));
  Sync({});
  EXPECT_EQ(cache_.svid_count(), 0u);
}

TEST_F(SvidCacheTest, JwtsAreKeptUntilHalfTheirLifetimePerAudienceSet) {
  cache_.PutJwt("spiffe://td/web", {"b", "a"}, "token", kNow, kNow + absl::Minutes(5));
  EXPECT_EQ(cache_.GetJwt("spiffe://td/web", {"a", "b", "a"}), "token");
  EXPECT_EQ(cache_.GetJwt("spiffe://td/web", {"a"}), std::nullopt);
  EXPECT_EQ(cache_.GetJwt("spiffe://td/api", {"a", "b"}), std::nullopt);
  clock_.Advance(absl::Seconds(151));
  EXPECT_EQ(cache_.GetJwt("spiffe://td/web", {"a", "b"}), std::nullopt);
}

TEST_F(SvidCacheTest, WaitForChangeWakesOnAChange) {
  const uint64_t seen = cache_.version();
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    cache_.SetEntries({});
  });
  EXPECT_NE(cache_.WaitForChange(seen, absl::Now() + absl::Seconds(10)), seen);
  writer.join();
  const uint64_t now = cache_.version();
  EXPECT_EQ(cache_.WaitForChange(now, absl::Now() + absl::Milliseconds(20)), now);
}

TEST_F(SvidCacheTest, WaitForChangeEndsWhenWoken) {
  std::thread waker([&] {
    absl::SleepFor(absl::Milliseconds(50));
    cache_.WakeWaiters();
  });
  const uint64_t seen = cache_.version();
  // Unwoken, this would wait the hour out (and the test time out).
  EXPECT_EQ(cache_.WaitForChange(seen, absl::Now() + absl::Hours(1)), seen);
  waker.join();
}

// The notifier's thread waits on the cache between sweeps; Stop must not wait for the sweep.
TEST_F(SvidCacheTest, AStreamHubStopsWithoutWaitingOutItsPoll) {
  StreamHub hub(&cache_, absl::Hours(1));
  absl::SleepFor(absl::Milliseconds(20));  // the notifier is in its wait
  hub.Stop();
  EXPECT_EQ(hub.size(), 0u);
}

TEST(SvidCacheLruTest, PastTheBoundIdleSvidsGoAndComeBackWhenAskedFor) {
  FakeClock clock(kNow);
  SvidCache cache(clock, /*max_svids=*/2);
  std::map<std::string, pb::Entry> entries;
  for (int i = 0; i < 3; ++i) {
    pb::Entry e = MakeEntry(std::to_string(i), "spiffe://td/w" + std::to_string(i),
                            {"unix:uid:" + std::to_string(i)});
    entries[e.id()] = e;
  }
  cache.SetEntries(entries);
  cache.SetBundle(std::make_shared<const spiffe::Bundle>());
  absl::Time next;
  // Pre-signed only while there is room.
  std::vector<pb::Entry> due = cache.Due(kNow, 10, &next);
  ASSERT_EQ(due.size(), 2u);
  for (const pb::Entry& e : due) {
    cache.Put(e, {"leaf-" + e.id(), "shared-ca"}, "key", kNow, kNow + absl::Hours(1));
  }
  EXPECT_THAT(cache.Due(kNow, 10, &next), IsEmpty());
  // A caller of the third entry asks: it is signed, and the idle one of the other two goes.
  clock.Advance(absl::Seconds(30));
  EXPECT_EQ(cache.For(Selectors({"unix:uid:0"})).svids.size(), 1u);  // 0 is in use now
  EXPECT_THAT(cache.For(Selectors({"unix:uid:2"})).svids, IsEmpty());
  due = cache.Due(clock.Now(), 10, &next);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id(), "2");
  cache.Put(due[0], {"leaf-2", "shared-ca"}, "key", clock.Now(), clock.Now() + absl::Hours(1));
  EXPECT_EQ(cache.svid_count(), 2u);
  EXPECT_EQ(cache.For(Selectors({"unix:uid:0"})).svids.size(), 1u) << "recently used: kept";
  EXPECT_THAT(cache.For(Selectors({"unix:uid:1"})).svids, IsEmpty()) << "idle: dropped";
  // Every SVID of a chain shares one copy of its CA certificates.
  WorkloadView a = cache.For(Selectors({"unix:uid:0"}));
  WorkloadView c = cache.For(Selectors({"unix:uid:2"}));
  ASSERT_EQ(a.svids.size(), 1u);
  ASSERT_EQ(c.svids.size(), 1u);
  EXPECT_EQ(a.svids[0]->intermediates_der.get(), c.svids[0]->intermediates_der.get());
  EXPECT_EQ(c.svids[0]->ChainDer(), "leaf-2shared-ca");
}

}  // namespace
}  // namespace signet::agent
