/* Shared by the test-only programs that call Google's libs2. */
#ifndef GEOLOC_TESTS_S2_MUTE_CERR_H
#define GEOLOC_TESTS_S2_MUTE_CERR_H

#include <iostream>
#include <streambuf>

/* Mutes std::cerr while alive: libs2 as packaged is built with debug checks
 * and logs there every out-of-range S2LatLng it converts (deliberate here). */
class MuteCerr {
    struct NullBuf : std::streambuf {
        int overflow(int ch) override { return ch; }
    } null_;
    std::streambuf *saved_;

  public:
    MuteCerr() : saved_(std::cerr.rdbuf(&null_)) {}
    ~MuteCerr() { std::cerr.rdbuf(saved_); }
};

#endif
