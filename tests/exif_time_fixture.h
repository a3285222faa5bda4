/* Test photos with EXIF written by libexif: a copy of a JPEG given an APP1
 * EXIF segment with a DateTimeOriginal and, optionally, a GPS position (the
 * dev photos carry no metadata). Test-only. */
#ifndef GEOLOC_TEST_EXIF_TIME_FIXTURE_H
#define GEOLOC_TEST_EXIF_TIME_FIXTURE_H

/* Copies the JPEG src to dst with an EXIF segment after its SOI holding
 * DateTimeOriginal = datetime ("YYYY:MM:DD HH:MM:SS"; NULL: none) and, when
 * latlon is not NULL, GPSLatitude/GPSLongitude with their references. 0, or
 * -1 after a message on stderr. */
int exif_time_fixture_write(const char *src, const char *dst, const char *datetime, const double *latlon);

#endif
