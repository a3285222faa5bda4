/* Capture times as photos and manifests write them: EXIF's
 * "YYYY:MM:DD HH:MM:SS" and ISO 8601's "YYYY-MM-DDTHH:MM:SS" (or with a space
 * for the T), read as a count of seconds on a proleptic Gregorian calendar
 * (the time as written: EXIF carries no zone). The one parser of date-times:
 * EXIF reading (exif.c) and manifests' DATETIME column both use it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "geoloc/exif.h"

/* The number at text[0..digits), or -1 when one of them is not a digit. */
static int digits_value(const char *text, int digits) {
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to year-month-day (month 1-12): the days of the whole
 * years since year 0 in 400-year eras, counted from March so that February's
 * leap day ends a year. */
static int64_t days_since_1970(int64_t year, int month, int day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static int days_in_month(int year, int month) {
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return DAYS[month - 1] + (month == 2 && leap);
}

int geoloc_datetime_parse(const char *text, int64_t *seconds) {
    if (!text || strlen(text) != 19) return -1;
    char date_sep = text[4];
    if ((date_sep != ':' && date_sep != '-') || text[7] != date_sep || text[13] != ':' || text[16] != ':')
        return -1;
    if (text[10] != ' ' && !(date_sep == '-' && text[10] == 'T')) return -1;
    int year = digits_value(text, 4), month = digits_value(text + 5, 2), day = digits_value(text + 8, 2);
    int hour = digits_value(text + 11, 2), minute = digits_value(text + 14, 2), second = digits_value(text + 17, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
        return -1;
    if (seconds) *seconds = days_since_1970(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    return 0;
}
