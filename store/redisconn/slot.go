package redisconn

import "strings"

// slots is how many hash slots a Redis Cluster has.
const slots = 16384

// keySlot is the hash slot of key, as Redis Cluster computes it: CRC16
// (XMODEM) of the key, or of its hash tag (what is between the first {
// and the next }, when that is not empty), modulo 16384.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
	}
	return int(crc16(key) % slots)
}

// crc16 is CRC-16/XMODEM: polynomial 0x1021, initial value 0.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
