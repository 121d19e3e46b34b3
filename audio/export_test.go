package audio
