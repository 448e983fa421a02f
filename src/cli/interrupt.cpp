#include "cli/interrupt.h"

#include <csignal>

namespace ipfs_accel::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void NoteSignal(int signal) {
  g_signal = signal;
  std::signal(signal, SIG_DFL);  // a second one ends the process at once
}

struct sigaction g_saved_int {
}, g_saved_term{};

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction note {};
  note.sa_handler = NoteSignal;
  note.sa_flags = SA_RESTART;
  sigemptyset(&note.sa_mask);
  sigaction(SIGINT, &note, &g_saved_int);
  sigaction(SIGTERM, &note, &g_saved_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_saved_int, nullptr);
  sigaction(SIGTERM, &g_saved_term, nullptr);
}

int PendingInterrupt() { return g_signal; }

void ThrowIfInterrupted() {
  if (const int s = g_signal; s != 0) throw Interrupted{s};
}

}  // namespace ipfs_accel::cli
