#pragma once
// Test helper: a program (the built CLI, node) as a child process, its stdout readable line by
// line.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace ipfs_accel::testing {

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // its stdout
};

// Starts `program` (found on PATH when it has no slash) with `args` (its stderr goes to ours).
inline Child SpawnProgram(const std::string& program, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(program.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  return {pid, fdopen(pipe_fds[0], "r")};
}

// Starts the built CLI with `args`.
inline Child Spawn(const std::vector<std::string>& args) {
  return SpawnProgram(IPFS_ACCEL_CLI, args);
}

inline int ExitStatus(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace ipfs_accel::testing
