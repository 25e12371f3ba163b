// The one place QuickFIX is included. Debian's QuickFIX 1.15.1 headers use
// dynamic exception specifications (throw(...)), which C++17 rejects: the
// standard headers they need come first, then throw(...) is defined away
// while QuickFIX is included, with its warnings silenced. Nothing outside
// gateway/ (and the FIX tools in app/ and bench/) may include this.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#define throw(...)
#ifndef HAVE_SSL
#define HAVE_SSL 1  // Debian builds libquickfix with OpenSSL; the SSL classes need it
#endif
#include <quickfix/Application.h>
#include <quickfix/MessageCracker.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketAcceptor.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/ThreadedSocketAcceptor.h>
#include <quickfix/ThreadedSocketInitiator.h>
#include <quickfix/FileStore.h>
#include <quickfix/NullStore.h>
#include <quickfix/FileLog.h>
#include <quickfix/Log.h>
#include <quickfix/fix44/NewOrderSingle.h>
#include <quickfix/fix44/ExecutionReport.h>
#include <quickfix/fix44/MessageCracker.h>
#include <quickfix/ThreadedSSLSocketAcceptor.h>
#include <quickfix/ThreadedSSLSocketInitiator.h>
#include <quickfix/SSLSocketAcceptor.h>
#undef throw
#pragma GCC diagnostic pop
