#include "src/agent/workload/workload_attestor.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "src/agent/workload/cgroup.h"
#include "src/common/file_util.h"
#include "src/common/logging.h"
#include "src/crypto/signature.h"

namespace signet::agent {
namespace {

std::string UserName(uid_t uid) {
  passwd pw{};
  passwd* out = nullptr;
  char buf[4096];
  return getpwuid_r(uid, &pw, buf, sizeof(buf), &out) == 0 && out != nullptr ? pw.pw_name : "";
}

std::string GroupName(gid_t gid) {
  group gr{};
  group* out = nullptr;
  char buf[4096];
  return getgrgid_r(gid, &gr, buf, sizeof(buf), &out) == 0 && out != nullptr ? gr.gr_name : "";
}

// The "Groups:" line of /proc/PID/status.
std::vector<std::string> SupplementaryGids(absl::string_view status) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, "Groups:")) {
      std::vector<std::string> out;
      for (absl::string_view gid : absl::StrSplit(line, ' ', absl::SkipWhitespace())) {
        uint32_t value = 0;
        if (absl::SimpleAtoi(gid, &value)) out.push_back(std::to_string(value));
      }
      return out;
    }
  }
  return {};
}

class UnixAttestor final : public WorkloadAttestor {
 public:
  UnixAttestor(UnixAttestorConfig config, std::string proc_root)
      : config_(config), proc_root_(std::move(proc_root)) {}

  absl::string_view type() const override { return "unix"; }

  absl::StatusOr<std::vector<spiffe::Selector>> Attest(const WorkloadProcess& p) override {
    std::vector<std::string> values = {absl::StrCat("uid:", p.uid), absl::StrCat("gid:", p.gid)};
    if (std::string user = UserName(p.uid); !user.empty()) values.push_back("user:" + user);
    if (std::string group = GroupName(p.gid); !group.empty()) values.push_back("group:" + group);
    const std::string dir = absl::StrCat(proc_root_, "/", p.pid);
    absl::StatusOr<std::string> status = ReadFile(dir + "/status", 64 << 10);
    if (status.ok()) {
      for (const std::string& gid : SupplementaryGids(*status)) {
        values.push_back("supplementary_gid:" + gid);
      }
    }
    char target[4096];
    const ssize_t n = readlink((dir + "/exe").c_str(), target, sizeof(target) - 1);
    if (n > 0) {
      const std::string path(target, static_cast<size_t>(n));
      values.push_back("path:" + path);
      if (config_.sha256) {
        if (std::string digest = BinarySha256(dir + "/exe"); !digest.empty()) {
          values.push_back("sha256:" + digest);
        }
      }
    }
    std::vector<spiffe::Selector> out;
    for (const std::string& value : values) {
      absl::StatusOr<spiffe::Selector> s = spiffe::Selector::Make("unix", value);
      if (s.ok()) out.push_back(*std::move(s));
    }
    return out;
  }

 private:
  // The binary's digest, read through /proc/PID/exe (which names the file even after it was
  // replaced on disk), cached by what identifies its content.
  std::string BinarySha256(const std::string& exe) {
    struct stat st {};
    if (stat(exe.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > config_.max_binary_bytes) {
      return "";
    }
    const std::string key = absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":",
                                         st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
    {
      absl::MutexLock lock(&mu_);
      if (auto it = digests_.find(key); it != digests_.end()) return it->second;
    }
    absl::StatusOr<std::string> content =
        ReadFile(exe, static_cast<size_t>(config_.max_binary_bytes));
    if (!content.ok()) return "";
    std::string digest;
    for (unsigned char c : crypto::Sha256(*content))
      absl::StrAppend(&digest, absl::Hex(c, absl::kZeroPad2));
    absl::MutexLock lock(&mu_);
    if (digests_.size() > 4096) digests_.clear();  // bounded; binaries are few
    digests_[key] = digest;
    return digest;
  }

  const UnixAttestorConfig config_;
  const std::string proc_root_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> digests_ ABSL_GUARDED_BY(mu_);
};

class SystemdAttestor final : public WorkloadAttestor {
 public:
  explicit SystemdAttestor(std::string proc_root) : proc_root_(std::move(proc_root)) {}
  absl::string_view type() const override { return "systemd"; }

  absl::StatusOr<std::vector<spiffe::Selector>> Attest(const WorkloadProcess& p) override {
    std::vector<spiffe::Selector> out;
    for (const std::string& path : ProcessCgroupPaths(proc_root_, p.pid)) {
      if (std::optional<std::string> unit = SystemdUnit(path); unit.has_value()) {
        absl::StatusOr<spiffe::Selector> s = spiffe::Selector::Make("systemd", "id:" + *unit);
        if (s.ok()) out.push_back(*std::move(s));
        break;
      }
    }
    return out;
  }

 private:
  const std::string proc_root_;
};

}  // namespace

std::vector<std::string> ProcessCgroupPaths(const std::string& proc_root, pid_t pid) {
  absl::StatusOr<std::string> cgroup =
      ReadFile(absl::StrCat(proc_root, "/", pid, "/cgroup"), 64 << 10);
  return cgroup.ok() ? CgroupPaths(*cgroup) : std::vector<std::string>{};
}

std::unique_ptr<WorkloadAttestor> CreateSystemdAttestor(std::string proc_root) {
  return std::make_unique<SystemdAttestor>(std::move(proc_root));
}

std::unique_ptr<WorkloadAttestor> CreateUnixAttestor(const UnixAttestorConfig& config,
                                                     std::string proc_root) {
  return std::make_unique<UnixAttestor>(config, std::move(proc_root));
}

absl::StatusOr<std::vector<spiffe::Selector>> AttestWorkload(
    const std::vector<std::unique_ptr<WorkloadAttestor>>& attestors,
    const WorkloadProcess& process) {
  if (process.pidfd == nullptr) {
    return absl::PermissionDeniedError(
        "workload attestation: no process descriptor for the caller");
  }
  std::vector<spiffe::Selector> all;
  for (const auto& attestor : attestors) {
    absl::StatusOr<std::vector<spiffe::Selector>> found = attestor->Attest(process);
    if (!found.ok()) {
      return absl::PermissionDeniedError(
          absl::StrCat("workload attestation: ", attestor->type(), ": ", found.status().message()));
    }
    all.insert(all.end(), found->begin(), found->end());
  }
  // Read after every fact: if the caller is gone, its PID may now belong to another process
  // whose /proc entries were read instead.
  if (!process.pidfd->Alive()) {
    return absl::PermissionDeniedError(
        absl::StrCat("workload attestation: process ", process.pid, " exited during attestation"));
  }
  spiffe::CanonicalizeSelectors(all);
  return all;
}

std::optional<absl::StatusOr<SharedSelectors>> AttestationCache::Cached(
    const WorkloadProcess& process) {
  if (process.pidfd == nullptr) return std::nullopt;
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  auto it = cached_.find(process.pidfd.get());
  // The weak pointer tells a live descriptor from a new one at a recycled address.
  if (it == cached_.end() || it->second.pidfd.lock() != process.pidfd ||
      now >= it->second.expires) {
    return std::nullopt;
  }
  if (!process.pidfd->Alive()) {
    return absl::PermissionDeniedError(
        absl::StrCat("workload attestation: process ", process.pid, " has exited"));
  }
  return it->second.selectors;
}

absl::StatusOr<SharedSelectors> AttestationCache::Attest(
    const std::vector<std::unique_ptr<WorkloadAttestor>>& attestors,
    const WorkloadProcess& process) {
  if (auto cached = Cached(process)) return *std::move(cached);
  const absl::Time now = clock_.Now();
  absl::StatusOr<std::vector<spiffe::Selector>> selectors = AttestWorkload(attestors, process);
  if (!selectors.ok()) return selectors.status();
  auto shared = std::make_shared<const std::vector<spiffe::Selector>>(*std::move(selectors));
  absl::MutexLock lock(&mu_);
  if (cached_.size() >= 4096) {
    absl::erase_if(cached_, [&](const auto& kv) {
      return kv.second.expires <= now || kv.second.pidfd.expired();
    });
    if (cached_.size() >= 4096) cached_.clear();
  }
  cached_[process.pidfd.get()] = {process.pidfd, shared, now + ttl_};
  return shared;
}

}  // namespace signet::agent
